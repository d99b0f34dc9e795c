//! [`TwilioRest`]: the few Twilio REST calls the engine makes on a live call
//! (PROTOCOLS.md section 3): redirect it to new TwiML (escalation with
//! `<Dial>`) and hang it up (`Status=completed`). HTTP Basic auth with the
//! Account SID and auth token from the environment; form-encoded bodies.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::time::Duration;

/// Twilio REST settings (`[twilio.rest]` in config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioRestConfig {
    /// `https://api.twilio.com`, or the mock's URL.
    pub base_url: String,
    pub account_sid_env: String,
    pub auth_token_env: String,
    pub connect_timeout_ms: u64,
    /// A total limit is right here: the answers are small and not streamed.
    pub request_timeout_ms: u64,
}

impl Default for TwilioRestConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.twilio.com".into(),
            account_sid_env: "TWILIO_ACCOUNT_SID".into(),
            auth_token_env: "TWILIO_AUTH_TOKEN".into(),
            connect_timeout_ms: 3_000,
            request_timeout_ms: 10_000,
        }
    }
}

/// What to change on a live call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallUpdate {
    /// Replace the running TwiML (ends `<Connect><Stream>`: the media socket
    /// gets `stop`). At most 4000 characters.
    Twiml(String),
    /// Fetch new TwiML from `url` with `method` (GET or POST).
    Url { url: String, method: String },
    /// `Status=completed`: hang up an answered call.
    Complete,
}

impl CallUpdate {
    /// Escalation: dial `number` (E.164, a SIP URI or a client name).
    pub fn dial(number: &str) -> Self {
        CallUpdate::Twiml(format!(
            "<Response><Dial>{}</Dial></Response>",
            crate::twilio::twiml::escape_xml(number)
        ))
    }

    fn form(&self) -> Vec<(&'static str, String)> {
        match self {
            CallUpdate::Twiml(t) => vec![("Twiml", t.clone())],
            CallUpdate::Url { url, method } => {
                vec![("Url", url.clone()), ("Method", method.clone())]
            }
            CallUpdate::Complete => vec![("Status", "completed".into())],
        }
    }
}

/// The parts of Twilio's call resource the engine reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallResource {
    pub sid: String,
    pub account_sid: String,
    pub status: String,
    pub to: Option<String>,
    pub from: Option<String>,
    pub direction: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TwilioRestError {
    #[error("environment variable {0} is not set")]
    MissingCredential(String),
    #[error("invalid SID {0:?}")]
    InvalidSid(String),
    #[error("TwiML is {0} characters; Twilio accepts at most 4000")]
    TwimlTooLong(usize),
    /// Twilio answered with an error (`code` is Twilio's error code, e.g.
    /// 20404 for an unknown call, 21220 for a call not in progress).
    #[error("Twilio HTTP {status} (code {code:?}): {message}")]
    Api {
        status: u16,
        code: Option<i64>,
        message: String,
        more_info: Option<String>,
    },
    #[error("Twilio request failed: {0}")]
    Connect(String),
    #[error("Twilio request timed out")]
    Timeout,
    #[error("unexpected Twilio answer: {0}")]
    Protocol(String),
}

/// A Twilio REST client for one account.
#[derive(Clone, Debug)]
pub struct TwilioRest {
    base_url: String,
    account_sid: String,
    auth_token: String,
    http: reqwest::Client,
}

impl TwilioRest {
    /// Reads the Account SID and auth token from the variables in `cfg`.
    /// Takes the config by value or by reference.
    pub fn new(cfg: impl Borrow<TwilioRestConfig>) -> Result<Self, TwilioRestError> {
        let cfg = cfg.borrow();
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| TwilioRestError::MissingCredential(name.to_owned()))
        };
        Self::with_credentials(
            cfg,
            &read(&cfg.account_sid_env)?,
            &read(&cfg.auth_token_env)?,
        )
    }

    pub fn with_credentials(
        cfg: impl Borrow<TwilioRestConfig>,
        account_sid: &str,
        auth_token: &str,
    ) -> Result<Self, TwilioRestError> {
        let cfg = cfg.borrow();
        check_sid(account_sid)?;
        super::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.request_timeout_ms))
            .build()
            .map_err(|e| TwilioRestError::Connect(e.to_string()))?;
        Ok(Self {
            base_url: cfg.base_url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            http,
        })
    }

    /// `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`.
    pub async fn update_call(
        &self,
        call_sid: &str,
        update: &CallUpdate,
    ) -> Result<CallResource, TwilioRestError> {
        check_sid(call_sid)?;
        if let CallUpdate::Twiml(t) = update {
            let len = t.chars().count();
            if len > 4000 {
                return Err(TwilioRestError::TwimlTooLong(len));
            }
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{}.json",
            self.base_url, self.account_sid, call_sid
        );
        let resp = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&update.form())
            .send()
            .await
            .map_err(map_error)?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(map_error)?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &body));
        }
        serde_json::from_str(&body)
            .map_err(|e| TwilioRestError::Protocol(format!("call resource: {e}")))
    }

    /// Replaces the call's TwiML (e.g. `<Response><Dial>…</Dial></Response>`).
    pub async fn redirect(
        &self,
        call_sid: &str,
        twiml: &str,
    ) -> Result<CallResource, TwilioRestError> {
        self.update_call(call_sid, &CallUpdate::Twiml(twiml.to_owned()))
            .await
    }

    /// Escalates: the call leaves the media stream and dials `number`.
    pub async fn dial(
        &self,
        call_sid: &str,
        number: &str,
    ) -> Result<CallResource, TwilioRestError> {
        self.update_call(call_sid, &CallUpdate::dial(number)).await
    }

    /// Hangs up an answered call.
    pub async fn hang_up(&self, call_sid: &str) -> Result<CallResource, TwilioRestError> {
        self.update_call(call_sid, &CallUpdate::Complete).await
    }
}

/// SIDs go into the URL path: letters and digits only, so no `/` or `..`.
fn check_sid(sid: &str) -> Result<(), TwilioRestError> {
    if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TwilioRestError::InvalidSid(sid.chars().take(64).collect()));
    }
    Ok(())
}

fn map_error(e: reqwest::Error) -> TwilioRestError {
    if e.is_timeout() {
        TwilioRestError::Timeout
    } else {
        TwilioRestError::Connect(format!("{e:#}"))
    }
}

#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
}

fn api_error(status: u16, body: &str) -> TwilioRestError {
    let parsed: Option<TwilioErrorBody> = serde_json::from_str(body).ok();
    let (code, message, more_info) = match parsed {
        Some(b) => (b.code, b.message.unwrap_or_default(), b.more_info),
        None => (None, body.chars().take(300).collect(), None),
    };
    TwilioRestError::Api {
        status,
        code,
        message,
        more_info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_twiml_escapes_the_target() {
        assert_eq!(
            CallUpdate::dial("+15551234567"),
            CallUpdate::Twiml("<Response><Dial>+15551234567</Dial></Response>".into())
        );
        let CallUpdate::Twiml(t) = CallUpdate::dial("a<b>&") else {
            unreachable!("dial builds TwiML")
        };
        assert!(t.contains("a&lt;b&gt;&amp;"));
    }

    #[test]
    fn sids_with_path_characters_are_refused() {
        assert!(check_sid("CA0123abc").is_ok());
        for bad in ["", "CA/../x", "CA x", "CA?x=1"] {
            assert!(
                matches!(check_sid(bad), Err(TwilioRestError::InvalidSid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn twilio_error_bodies_are_read() {
        let e = api_error(
            404,
            r#"{"code":20404,"message":"The requested resource was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}"#,
        );
        assert!(matches!(
            e,
            TwilioRestError::Api {
                status: 404,
                code: Some(20404),
                ..
            }
        ));
        assert!(matches!(
            api_error(502, "<html>"),
            TwilioRestError::Api { code: None, .. }
        ));
    }
}
