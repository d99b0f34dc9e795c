//! The engine's configuration: one plain struct per component, composed
//! here, loaded from `config/default.toml` (embedded, so the binary runs
//! anywhere), an optional file, and `SWITCHBOARD__SECTION__KEY=value`
//! environment overrides — then validated as a whole before any port is
//! bound. Secrets (API keys, auth tokens) are never in the file: only the
//! names of the environment variables that hold them.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use switchboard_actors::call::CallConfig;
use switchboard_actors::llm_pool::LlmPoolConfig;
use switchboard_actors::router::RouterConfig;
use switchboard_actors::store::StoreConfig;
use switchboard_actors::supervisor::RestartPolicy;

/// The defaults, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub twilio: TwilioConfig,
    pub engine: EngineConfig,
    pub providers: ProvidersConfig,
    pub store: StoreConfig,
    pub sink: SinkConfig,
    pub call: CallConfig,
    pub router: RouterConfig,
    pub llm: LlmPoolConfig,
    pub auth: crate::http::auth::AuthConfig,
    /// Per-tenant settings: `[tenants.<id>.call]` holds the `[call]` keys
    /// this tenant sets differently (for example its escalation triggers).
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// `[call]` merged with each tenant's overrides, built and validated by
    /// [`Config::load`].
    #[serde(skip)]
    pub tenant_calls: BTreeMap<String, CallConfig>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    #[serde(default)]
    pub call: toml::Table,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free one (tests).
    pub bind: String,
    /// The URL Twilio uses to reach us (scheme://host[:port]); webhook
    /// signatures are computed over it and the media URL is derived from it.
    pub public_url: String,
    /// actix-web worker threads for HTTP and sockets.
    pub workers: usize,
    /// Require a viewer key for `/metrics`.
    pub metrics_require_key: bool,
    /// Largest accepted HTTP body (webhooks, admin API).
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// Check `X-Twilio-Signature` on webhooks and the socket upgrade, and
    /// the per-call token on `start`. Off only for local development.
    pub validate_signatures: bool,
    pub auth_token_env: String,
    pub account_sid_env: String,
    /// Twilio REST base, for escalation and hang-up.
    pub api_base_url: String,
    /// Secret for the per-call `<Parameter name="token">`.
    pub call_token_secret_env: String,
    /// Tenant of calls whose webhook names none (`?tenant=` on the webhook URL).
    pub default_tenant: String,
    /// Close a media socket that has been silent this long (Twilio streams
    /// 50 frames/s, so silence means a dead peer).
    pub ws_idle_timeout_ms: u64,
    /// Sustained inbound frame rate above which a socket is closed.
    pub ws_max_frames_per_sec: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    pub max_calls: usize,
    pub restart: RestartPolicy,
    /// How long live calls get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Enables `POST /api/v1/calls/{id}/debug/panic` (fault injection).
    pub debug_routes: bool,
    /// Actor runtime worker threads (0 = one per core).
    pub actor_threads: usize,
}

/// Which speech and language services the engine talks to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    /// "mock": start the built-in mock providers in-process and use them
    /// through the real clients; "real": use the endpoints below.
    pub mode: ProviderMode,
    pub chat: Vec<crate::providers::ChatEndpointConfig>,
    pub stt: crate::providers::SttConfig,
    pub tts: crate::providers::TtsConfig,
    /// Mock provider timing (mode = "mock").
    pub mock: crate::mocks::MockConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderMode {
    Mock,
    Real,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub max_batch: usize,
    pub max_delay_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid TOML in {origin}: {message}")]
    Toml { origin: String, message: String },
    #[error("bad override {var}: {message}")]
    Override { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file`, then environment overrides; validated.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut value = parse_toml(DEFAULT_TOML, "built-in defaults")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            merge(&mut value, parse_toml(&text, &path.display().to_string())?);
        }
        for (var, raw) in env {
            if let Some(path) = var.strip_prefix("SWITCHBOARD__") {
                apply_override(&mut value, &var, path, &raw)?;
            }
        }
        let base_call = value
            .get("call")
            .cloned()
            .unwrap_or(toml::Value::Table(Default::default()));
        let mut config: Config =
            value
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Toml {
                    origin: "merged configuration".to_owned(),
                    message: e.to_string(),
                })?;
        for (tenant, t) in &config.tenants {
            let mut call = base_call.clone();
            merge(&mut call, toml::Value::Table(t.call.clone()));
            let parsed: CallConfig =
                call.try_into()
                    .map_err(|e: toml::de::Error| ConfigError::Toml {
                        origin: format!("tenants.{tenant}.call"),
                        message: e.to_string(),
                    })?;
            config.tenant_calls.insert(tenant.clone(), parsed);
        }
        config.validate()?;
        Ok(config)
    }

    /// The embedded defaults alone.
    pub fn defaults() -> Self {
        Self::load(None, std::iter::empty()).expect("the embedded default.toml is valid (tested)")
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "server.bind {:?} is not an address like 127.0.0.1:8080",
                self.server.bind
            ));
        }
        match url::Url::parse(&self.server.public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => problems.push(format!(
                "server.public_url {:?} must be an http(s) URL with a host",
                self.server.public_url
            )),
        }
        if self.server.workers == 0 || self.server.workers > 64 {
            problems.push("server.workers must be 1..=64".to_owned());
        }
        if self.engine.max_calls == 0 {
            problems.push("engine.max_calls must be at least 1".to_owned());
        }
        if self.engine.restart.max_restarts == 0 || self.engine.restart.window_secs == 0 {
            problems.push("engine.restart needs max_restarts >= 1 and window_secs >= 1".to_owned());
        }
        if self.sink.max_batch == 0 || self.sink.max_delay_ms == 0 {
            problems.push("sink.max_batch and sink.max_delay_ms must be positive".to_owned());
        }
        if self.twilio.ws_max_frames_per_sec < 60 {
            problems.push(
                "twilio.ws_max_frames_per_sec must leave room for Twilio's 50 frames/s (>= 60)"
                    .to_owned(),
            );
        }
        if self.providers.mode == ProviderMode::Real && self.providers.chat.is_empty() {
            problems.push("providers.chat needs at least one endpoint in real mode".to_owned());
        }
        for (tenant, call) in &self.tenant_calls {
            if let Err(e) = call.validate() {
                problems.push(format!("tenants.{tenant}.call: {e}"));
            }
        }
        for (name, result) in [
            ("call", self.call.validate()),
            ("router", self.router.validate()),
            ("llm", self.llm.validate()),
            ("store", self.store.validate()),
        ] {
            if let Err(e) = result {
                problems.push(format!("{name}: {e}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems.join("; ")))
        }
    }

    /// `wss://host/twilio/media` as Twilio will be told to connect: Twilio
    /// only streams over TLS, so the scheme is wss:// even when the public
    /// URL is plain http (a TLS terminator in front, or a local simulator
    /// that connects to its target directly). Upgrades are signed over it.
    pub fn media_ws_url(&self) -> String {
        let base = self.server.public_url.trim_end_matches('/');
        let host = base.split_once("://").map_or(base, |(_, rest)| rest);
        format!("wss://{host}/twilio/media")
    }
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Value, ConfigError> {
    text.parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| ConfigError::Toml {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
}

/// Deep-merge `over` into `base`: tables merge, everything else replaces.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// `SWITCHBOARD__ENGINE__MAX_CALLS=500` sets `engine.max_calls`. The value
/// is read as a TOML value when it parses as one (numbers, booleans,
/// arrays), else as a string.
fn apply_override(
    value: &mut toml::Value,
    var: &str,
    path: &str,
    raw: &str,
) -> Result<(), ConfigError> {
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(ConfigError::Override {
            var: var.to_owned(),
            message: "empty key segment".to_owned(),
        });
    }
    let parsed = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let mut node = value;
    for key in &keys[..keys.len() - 1] {
        let toml::Value::Table(table) = node else {
            return Err(ConfigError::Override {
                var: var.to_owned(),
                message: format!("{key} is not a section"),
            });
        };
        node = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    let toml::Value::Table(table) = node else {
        return Err(ConfigError::Override {
            var: var.to_owned(),
            message: "parent is not a section".to_owned(),
        });
    };
    table.insert(keys[keys.len() - 1].clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let c = Config::defaults();
        assert_eq!(c.providers.mode, ProviderMode::Mock);
        assert!(c.engine.max_calls >= 1);
    }

    #[test]
    fn environment_overrides_numbers_and_strings() {
        let env = [
            ("SWITCHBOARD__ENGINE__MAX_CALLS".to_owned(), "7".to_owned()),
            (
                "SWITCHBOARD__SERVER__PUBLIC_URL".to_owned(),
                "https://voice.example.com".to_owned(),
            ),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.engine.max_calls, 7);
        assert_eq!(c.media_ws_url(), "wss://voice.example.com/twilio/media");
        let local = Config::defaults();
        assert_eq!(local.media_ws_url(), "wss://127.0.0.1:8080/twilio/media");
    }

    #[test]
    fn invalid_values_are_reported_together() {
        let env = [
            ("SWITCHBOARD__ENGINE__MAX_CALLS".to_owned(), "0".to_owned()),
            ("SWITCHBOARD__SERVER__BIND".to_owned(), "nowhere".to_owned()),
        ];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(
            err.contains("max_calls") && err.contains("server.bind"),
            "{err}"
        );
    }

    #[test]
    fn a_tenant_can_switch_escalation_triggers_off_while_others_keep_them() {
        let dir = std::env::temp_dir().join(format!("switchboard-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tenants.toml");
        std::fs::write(
            &file,
            "[tenants.acme.call.escalation]\nkeywords_enabled = false\ndtmf_zero_enabled = false\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), std::iter::empty()).unwrap();
        let acme = &c.tenant_calls["acme"];
        assert!(!acme.escalation.keywords_enabled && !acme.escalation.dtmf_zero_enabled);
        assert!(
            c.call.escalation.keywords_enabled,
            "the base keeps its triggers"
        );
        assert_eq!(
            acme.greeting, c.call.greeting,
            "everything else is inherited"
        );
        std::fs::write(&file, "[tenants.acme.call]\nlead_ms = \"soon\"\n").unwrap();
        let err = Config::load(Some(&file), std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(err.contains("tenants.acme.call"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let env = [("SWITCHBOARD__ENGINE__MAX_CALS".to_owned(), "3".to_owned())];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("max_cals"), "{err}");
    }
}
