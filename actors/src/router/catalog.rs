//! The live set of every tenant's scenarios, loaded from a directory in one
//! piece: either every file parses and validates, or the load fails with the
//! first bad file's error and the caller keeps its old catalog. The actor
//! holds it in an `Arc` and swaps the whole thing on reload.

use super::engine::TenantRouter;
use super::scenario::{parse_file, ScenarioError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub struct Catalog {
    tenants: HashMap<String, Arc<TenantRouter>>,
    pub files: Vec<PathBuf>,
}

/// What the files looked like when loaded: (path, mtime, length), sorted.
/// A change in any of them (or a file added or removed) means reload.
pub type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

impl Catalog {
    pub fn empty() -> Self {
        Self {
            tenants: HashMap::new(),
            files: Vec::new(),
        }
    }

    /// Parse and compile `(path, text)` pairs (the path labels errors).
    pub fn from_texts(files: &[(PathBuf, String)]) -> Result<Self, ScenarioError> {
        let mut tenants = HashMap::new();
        for (path, text) in files {
            let file = parse_file(path, text)?;
            let tenant = file.tenant.clone();
            let router = TenantRouter::compile(file).map_err(|e| ScenarioError {
                file: path.clone(),
                scenario: None,
                problem: format!("a regex does not compile: {e}"),
            })?;
            if tenants.insert(tenant.clone(), Arc::new(router)).is_some() {
                return Err(ScenarioError {
                    file: path.clone(),
                    scenario: None,
                    problem: format!("tenant '{tenant}' is defined by another file too"),
                });
            }
        }
        Ok(Self {
            tenants,
            files: files.iter().map(|(p, _)| p.clone()).collect(),
        })
    }

    /// Load every `*.toml` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, ScenarioError> {
        let io_err = |file: &Path, e: std::io::Error| ScenarioError {
            file: file.to_owned(),
            scenario: None,
            problem: e.to_string(),
        };
        let mut texts = Vec::new();
        for path in toml_files(dir).map_err(|e| io_err(dir, e))? {
            let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
            texts.push((path, text));
        }
        Self::from_texts(&texts)
    }

    /// The tenant's router, or the default tenant's when it has none.
    pub fn tenant(&self, tenant: &str, default: &str) -> Option<&Arc<TenantRouter>> {
        self.tenants
            .get(tenant)
            .or_else(|| self.tenants.get(default))
    }

    pub fn tenant_count(&self) -> usize {
        self.tenants.len()
    }

    pub fn scenario_count(&self) -> usize {
        self.tenants.values().map(|t| t.scenarios.len()).sum()
    }
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The current fingerprint of `dir` (empty if it cannot be read).
pub fn fingerprint(dir: &Path) -> Fingerprint {
    let files = toml_files(dir).unwrap_or_default();
    files
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let mtime = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (p, mtime, len)
        })
        .collect()
}
