//! API-key access control for the admin, conversation and supervisor APIs.
//!
//! Keys are bearer tokens (`Authorization: Bearer <secret>`) with a role —
//! viewer (read) < supervisor (act on calls) < admin (everything) — and an
//! optional tenant: a tenant-scoped key sees and touches only that
//! companyId's data. Secrets never stay in memory in clear: only their
//! SHA-256 is kept, and a presented token is compared against every key in
//! constant time.
//!
//! Keys come from the environment variable named by `auth.keys_env`
//! (default `SWITCHBOARD_API_KEYS`, entries `name:role[:company]:secret`
//! separated by commas) and from `[[auth.keys]]` entries in the config that
//! name an environment variable holding the secret or carry its SHA-256.
//!
//! Failures answer with a JSON body: 401 for a missing or unknown key, 403
//! for a key whose role or tenant does not fit. Handlers take a [`Caller`]
//! as an extractor and call [`Caller::require`] / [`Caller::scope`].

// Handlers answer refusals as ready-made responses: helpers return
// `Result<_, HttpResponse>` so a handler can `?` straight into its reply.
// The error path is cold and per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use actix_web::{
    dev::Payload, http::StatusCode, web, FromRequest, HttpRequest, HttpResponse, ResponseError,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use switchboard_actors::ids::TenantId;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Supervisor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// The `[auth]` config section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Environment variable with `name:role[:company]:secret,...`.
    pub keys_env: String,
    pub keys: Vec<KeyConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            keys_env: "SWITCHBOARD_API_KEYS".to_owned(),
            keys: Vec::new(),
        }
    }
}

/// One `[[auth.keys]]` entry: the secret is never in the file, only the
/// name of the variable holding it or its SHA-256 (hex).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    pub role: Role,
    pub company: Option<String>,
    pub secret_env: Option<String>,
    pub secret_sha256: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthConfigError {
    #[error("API key entry {0}: expected name:role[:company]:secret")]
    Malformed(usize),
    #[error("API key {0:?}: unknown role {1:?} (viewer, supervisor or admin)")]
    Role(String, String),
    #[error("API key {0:?}: the secret must be at least {MIN_SECRET_LEN} characters")]
    WeakSecret(String),
    #[error("API key {0:?}: set exactly one of secret_env or secret_sha256")]
    NoSecret(String),
    #[error("API key {0:?}: environment variable {1} is not set")]
    MissingEnv(String, String),
    #[error("API key {0:?}: secret_sha256 must be 64 hex digits")]
    BadHash(String),
    #[error("API key name {0:?} is used twice")]
    Duplicate(String),
}

const MIN_SECRET_LEN: usize = 8;

struct KeyEntry {
    name: String,
    role: Role,
    company: Option<TenantId>,
    hash: [u8; 32],
}

/// The configured keys, hashed. Cheap to clone.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Arc<Vec<KeyEntry>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.keys.iter().map(|k| k.name.as_str()).collect();
        f.debug_struct("ApiKeys").field("names", &names).finish()
    }
}

fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl ApiKeys {
    /// Keys from the environment variable named in `config` plus the
    /// config's own entries.
    pub fn from_config(config: &AuthConfig) -> Result<ApiKeys, AuthConfigError> {
        let env = std::env::var(&config.keys_env).unwrap_or_default();
        let mut keys = ApiKeys::parse_spec(&env)?;
        for k in &config.keys {
            let hash = match (&k.secret_env, &k.secret_sha256) {
                (Some(var), None) => {
                    let secret = std::env::var(var)
                        .map_err(|_| AuthConfigError::MissingEnv(k.name.clone(), var.clone()))?;
                    check_secret(&k.name, &secret)?;
                    sha256(&secret)
                }
                (None, Some(hex_hash)) => parse_hash(&k.name, hex_hash)?,
                _ => return Err(AuthConfigError::NoSecret(k.name.clone())),
            };
            keys = keys.push(k.name.clone(), k.role, k.company.as_deref(), hash)?;
        }
        Ok(keys)
    }

    /// Parse `name:role[:company]:secret,...` (blank entries skipped; an
    /// empty company field means no tenant scope).
    pub fn parse_spec(spec: &str) -> Result<ApiKeys, AuthConfigError> {
        let mut keys = ApiKeys::default();
        for (i, entry) in spec
            .split(',')
            .map(str::trim)
            .enumerate()
            .filter(|(_, e)| !e.is_empty())
        {
            let parts: Vec<&str> = entry.splitn(4, ':').collect();
            let (name, role, company, secret) = match parts.as_slice() {
                [n, r, s] => (*n, *r, None, *s),
                [n, r, c, s] => (*n, *r, Some(*c).filter(|c| !c.is_empty()), *s),
                _ => return Err(AuthConfigError::Malformed(i + 1)),
            };
            if name.is_empty() {
                return Err(AuthConfigError::Malformed(i + 1));
            }
            let role = Role::parse(role)
                .ok_or_else(|| AuthConfigError::Role(name.to_owned(), role.to_owned()))?;
            check_secret(name, secret)?;
            keys = keys.push(name.to_owned(), role, company, sha256(secret))?;
        }
        Ok(keys)
    }

    /// Add a key given in clear (tests and tools).
    pub fn with_key(
        self,
        name: &str,
        role: Role,
        company: Option<&str>,
        secret: &str,
    ) -> Result<ApiKeys, AuthConfigError> {
        check_secret(name, secret)?;
        self.push(name.to_owned(), role, company, sha256(secret))
    }

    fn push(
        self,
        name: String,
        role: Role,
        company: Option<&str>,
        hash: [u8; 32],
    ) -> Result<ApiKeys, AuthConfigError> {
        if self.keys.iter().any(|k| k.name == name) {
            return Err(AuthConfigError::Duplicate(name));
        }
        let mut keys = Arc::try_unwrap(self.keys).unwrap_or_else(|shared| {
            shared
                .iter()
                .map(|k| KeyEntry {
                    name: k.name.clone(),
                    role: k.role,
                    company: k.company.clone(),
                    hash: k.hash,
                })
                .collect()
        });
        keys.push(KeyEntry {
            name,
            role,
            company: company.map(TenantId::new),
            hash,
        });
        Ok(ApiKeys {
            keys: Arc::new(keys),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The caller a token belongs to. Every key is compared (in constant
    /// time) whatever matches, so timing tells nothing about which key or
    /// how much of it matched.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        let presented = sha256(token);
        let mut found: Option<&KeyEntry> = None;
        for k in self.keys.iter() {
            if bool::from(k.hash.ct_eq(&presented)) {
                found = Some(k);
            }
        }
        found.map(|k| Caller {
            key_name: k.name.clone(),
            role: k.role,
            company: k.company.clone(),
        })
    }
}

fn check_secret(name: &str, secret: &str) -> Result<(), AuthConfigError> {
    if secret.chars().count() < MIN_SECRET_LEN {
        return Err(AuthConfigError::WeakSecret(name.to_owned()));
    }
    Ok(())
}

fn parse_hash(name: &str, hex_hash: &str) -> Result<[u8; 32], AuthConfigError> {
    let bytes =
        hex::decode(hex_hash.trim()).map_err(|_| AuthConfigError::BadHash(name.to_owned()))?;
    bytes
        .try_into()
        .map_err(|_| AuthConfigError::BadHash(name.to_owned()))
}

/// Who is calling: the key's name (recorded as `who` in supervisor
/// actions), its role and its tenant scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub key_name: String,
    pub role: Role,
    pub company: Option<TenantId>,
}

/// Why a request is refused; renders as a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing API key: send Authorization: Bearer <key>")]
    Missing,
    #[error("unknown API key")]
    Unknown,
    #[error("this API needs the {0} role")]
    Role(&'static str),
    #[error("this key is limited to another tenant")]
    Tenant,
    #[error("no API keys are configured on this server")]
    NotConfigured,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::Role(_) | AuthError::Tenant => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        resp.json(serde_json::json!({ "error": self.to_string() }))
    }
}

impl Caller {
    /// 403 unless this key has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), HttpResponse> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AuthError::Role(role.as_str()).error_response())
        }
    }

    /// Whether this key may see data of `company`.
    pub fn can_see(&self, company: &TenantId) -> bool {
        self.company.as_ref().is_none_or(|c| c == company)
    }

    /// 403 unless this key may see data of `company`.
    pub fn require_tenant(&self, company: &TenantId) -> Result<(), HttpResponse> {
        if self.can_see(company) {
            Ok(())
        } else {
            Err(AuthError::Tenant.error_response())
        }
    }

    /// The tenant a query runs under: the requested one (which a scoped key
    /// may only name if it is its own), else the key's own scope.
    pub fn scope(&self, requested: Option<TenantId>) -> Result<Option<TenantId>, HttpResponse> {
        match (&self.company, requested) {
            (Some(own), Some(req)) if *own != req => Err(AuthError::Tenant.error_response()),
            (Some(own), _) => Ok(Some(own.clone())),
            (None, req) => Ok(req),
        }
    }

    /// The extractor's logic, for handlers that authenticate conditionally
    /// (e.g. `/metrics` when configured).
    pub fn from_request_sync(req: &HttpRequest) -> Result<Caller, HttpResponse> {
        authenticate(req).map_err(|e| e.error_response())
    }
}

/// The keys this app was given: `web::Data<ApiKeys>` if registered, else the
/// ones inside `web::Data<TraceApi>`.
fn keys_of(req: &HttpRequest) -> Option<ApiKeys> {
    if let Some(k) = req.app_data::<web::Data<ApiKeys>>() {
        return Some(k.get_ref().clone());
    }
    req.app_data::<web::Data<super::traces::TraceApi>>()
        .map(|api| api.keys.clone())
}

fn authenticate(req: &HttpRequest) -> Result<Caller, AuthError> {
    let keys = keys_of(req)
        .filter(|k| !k.is_empty())
        .ok_or(AuthError::NotConfigured)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let token = match header {
        Some(h) => bearer_token(h).ok_or(AuthError::Missing)?.to_owned(),
        // Browsers cannot set headers on a WebSocket: the live sockets
        // (and only they) also take the key as `?key=`.
        None if req.path().starts_with("/ws/") => query_key(req).ok_or(AuthError::Missing)?,
        None => return Err(AuthError::Missing),
    };
    keys.verify(&token).ok_or(AuthError::Unknown)
}

fn query_key(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequest for Caller {
    type Error = AuthError;
    type Future = std::future::Ready<Result<Caller, AuthError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_roles_companies_and_rejects_bad_entries() {
        let keys = ApiKeys::parse_spec(
            "ops:admin:s3cret-admin, acme-view:viewer:acme:s3cret:with:colons,",
        )
        .expect("valid spec");
        assert_eq!(keys.len(), 2);
        let admin = keys.verify("s3cret-admin").expect("admin key verifies");
        assert_eq!((admin.role, admin.company), (Role::Admin, None));
        let viewer = keys
            .verify("s3cret:with:colons")
            .expect("colons stay in the secret");
        assert_eq!(viewer.company, Some(TenantId::new("acme")));
        assert!(keys.verify("s3cret-admiN").is_none());
        assert_eq!(
            ApiKeys::parse_spec("x:boss:longenough").unwrap_err(),
            AuthConfigError::Role("x".into(), "boss".into())
        );
        assert_eq!(
            ApiKeys::parse_spec("x:admin:short").unwrap_err(),
            AuthConfigError::WeakSecret("x".into())
        );
        assert_eq!(
            ApiKeys::parse_spec("justaname").unwrap_err(),
            AuthConfigError::Malformed(1)
        );
        assert!(matches!(
            ApiKeys::parse_spec("a:admin:longenough1,a:viewer:longenough2"),
            Err(AuthConfigError::Duplicate(_))
        ));
    }

    #[test]
    fn roles_order_and_scopes_restrict_tenants() {
        let c = Caller {
            key_name: "k".into(),
            role: Role::Supervisor,
            company: Some(TenantId::new("acme")),
        };
        assert!(c.require(Role::Viewer).is_ok());
        assert_eq!(
            c.require(Role::Admin).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            c.scope(None).expect("own scope"),
            Some(TenantId::new("acme"))
        );
        assert_eq!(
            c.scope(Some(TenantId::new("globex"))).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn hashed_config_keys_verify() {
        let hash = hex::encode(sha256("from-a-hash-123"));
        let cfg = AuthConfig {
            keys_env: "SWITCHBOARD_TEST_UNSET_KEYS_VAR".into(),
            keys: vec![KeyConfig {
                name: "hashed".into(),
                role: Role::Viewer,
                company: None,
                secret_env: None,
                secret_sha256: Some(hash),
            }],
        };
        let keys = ApiKeys::from_config(&cfg).expect("config keys");
        assert_eq!(
            keys.verify("from-a-hash-123").map(|c| c.key_name),
            Some("hashed".into())
        );
    }
}
