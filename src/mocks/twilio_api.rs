//! The Twilio REST mock: `POST /2010-04-01/Accounts/{sid}/Calls/{CallSid}.json`
//! with HTTP Basic auth checked against the configured account, the form
//! fields recorded, and answers shaped like Twilio's (a call resource, or
//! Twilio's error JSON with its error codes).

use super::http::{ClientWatch, Request, ResponseWriter};
use super::MockServer;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioMockConfig {
    pub bind: SocketAddr,
    pub account_sid: String,
    pub auth_token: String,
}

impl Default for TwilioMockConfig {
    fn default() -> Self {
        Self {
            bind: super::loopback_any(),
            account_sid: "ACmock00000000000000000000000000".into(),
            auth_token: "mock-auth-token".into(),
        }
    }
}

/// One accepted call update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallUpdateRecord {
    pub call_sid: String,
    /// Form fields in the order sent.
    pub fields: Vec<(String, String)>,
}

impl CallUpdateRecord {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub struct TwilioMockState {
    cfg: TwilioMockConfig,
    updates: Mutex<Vec<CallUpdateRecord>>,
    rejected: Mutex<u64>,
}

impl TwilioMockState {
    pub fn updates(&self) -> Vec<CallUpdateRecord> {
        self.updates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The (Account SID, auth token) this mock accepts.
    pub fn credentials(&self) -> (String, String) {
        (self.cfg.account_sid.clone(), self.cfg.auth_token.clone())
    }

    /// Requests refused for bad credentials.
    pub fn unauthorized(&self) -> u64 {
        *self.rejected.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub async fn start(cfg: TwilioMockConfig) -> std::io::Result<MockServer<TwilioMockState>> {
    let state = Arc::new(TwilioMockState {
        cfg: cfg.clone(),
        ..Default::default()
    });
    let s = state.clone();
    super::start_http(
        cfg.bind,
        "http",
        state,
        move |req, w, _watch: ClientWatch| handle(s.clone(), req, w),
    )
    .await
}

fn twilio_error(status: u16, code: u32, message: &str) -> serde_json::Value {
    json!({ "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status })
}

async fn handle(state: Arc<TwilioMockState>, req: Request, mut w: ResponseWriter) {
    let (status, body) = answer(&state, &req);
    let _ = w.json(status, &[], &body).await;
}

fn answer(state: &TwilioMockState, req: &Request) -> (u16, serde_json::Value) {
    let cfg = &state.cfg;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", cfg.account_sid, cfg.auth_token))
    );
    if req.header("authorization") != Some(expected.as_str()) {
        *state.rejected.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        return (401, twilio_error(401, 20003, "Authenticate"));
    }
    let prefix = format!("/2010-04-01/Accounts/{}/Calls/", cfg.account_sid);
    let call_sid = req
        .path
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(".json"));
    let (Some(call_sid), "POST") = (call_sid, req.method.as_str()) else {
        return (
            404,
            twilio_error(404, 20404, "The requested resource was not found"),
        );
    };
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let record = CallUpdateRecord {
        call_sid: call_sid.to_owned(),
        fields,
    };
    let status = match record.field("Status") {
        Some("completed") => "completed",
        Some("canceled") => "canceled",
        Some(_) => return (400, twilio_error(400, 21218, "Invalid call status")),
        None if record.field("Twiml").is_none() && record.field("Url").is_none() => {
            return (
                400,
                twilio_error(400, 21205, "Url or Twiml or Status is required"),
            );
        }
        None => "in-progress",
    };
    let call = json!({
        "sid": record.call_sid, "account_sid": cfg.account_sid, "status": status,
        "to": "+15550000001", "from": "+15550000002", "direction": "inbound", "api_version": "2010-04-01",
        "uri": format!("{prefix}{}.json", record.call_sid),
    });
    state
        .updates
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(record);
    (200, call)
}
