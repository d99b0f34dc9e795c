//! TwiML documents the voice webhook answers with (PROTOCOLS.md 1.3):
//! the `<Connect><Stream>` that opens the media socket, a polite refusal
//! when the engine is full, a `<Dial>` for escalation to a human, and a bare
//! hang-up. Every attribute and text node is XML-escaped here; callers pass
//! plain strings.

use std::fmt::Write as _;

/// Name and value of one `<Parameter>` together must stay under this.
pub const MAX_PARAMETER_CHARS: usize = 500;

/// A TwiML document that could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TwimlError {
    #[error("stream url must be wss:// or a relative path: {0}")]
    BadStreamUrl(String),
    /// A query string can break the stream handshake (Twilio error 31920).
    #[error("stream url must not carry a query string: {0}")]
    QueryInStreamUrl(String),
    #[error("parameter {name} too long: {chars} chars, limit {MAX_PARAMETER_CHARS}")]
    ParameterTooLong { name: String, chars: usize },
    #[error("empty dial target")]
    EmptyDialTarget,
}

/// Appends `s` escaped for an XML attribute or text node. Characters XML 1.0
/// forbids (most C0 controls) are dropped rather than producing a document
/// Twilio would refuse.
pub fn escape_xml_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// `s` escaped for XML.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_xml_into(&mut out, s);
    out
}

/// `<Response><Connect><Stream url=..>` with `<Parameter>`s: the answer to a
/// voice webhook that hands the call to the engine.
#[derive(Clone, Debug, Default)]
pub struct ConnectStream {
    url: String,
    name: Option<String>,
    status_callback: Option<String>,
    parameters: Vec<(String, String)>,
}

impl ConnectStream {
    /// `url` must be `wss://...` (or a relative path) without a query string.
    pub fn new(url: &str) -> Result<Self, TwimlError> {
        if !(url.starts_with("wss://") || url.starts_with('/')) {
            return Err(TwimlError::BadStreamUrl(url.to_owned()));
        }
        if url.contains('?') {
            return Err(TwimlError::QueryInStreamUrl(url.to_owned()));
        }
        Ok(ConnectStream {
            url: url.to_owned(),
            ..Default::default()
        })
    }

    /// The stream for `wss://{host}/twilio/media`.
    pub fn for_host(public_host: &str) -> Result<Self, TwimlError> {
        Self::new(&format!("wss://{public_host}/twilio/media"))
    }

    /// Adds a `<Parameter>`; it arrives in `start.customParameters`.
    pub fn parameter(mut self, name: &str, value: &str) -> Result<Self, TwimlError> {
        let chars = name.chars().count() + value.chars().count();
        if chars >= MAX_PARAMETER_CHARS {
            return Err(TwimlError::ParameterTooLong {
                name: name.to_owned(),
                chars,
            });
        }
        self.parameters.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// `<Stream name>`: unique per call.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// `<Stream statusCallback>` (POST): stream-started/stopped/error.
    pub fn status_callback(mut self, url: &str) -> Self {
        self.status_callback = Some(url.to_owned());
        self
    }

    /// The TwiML document.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url=""#,
        );
        escape_xml_into(&mut out, &self.url);
        out.push('"');
        if let Some(name) = &self.name {
            attribute(&mut out, "name", name);
        }
        if let Some(cb) = &self.status_callback {
            attribute(&mut out, "statusCallback", cb);
            attribute(&mut out, "statusCallbackMethod", "POST");
        }
        out.push('>');
        for (name, value) in &self.parameters {
            out.push_str("<Parameter");
            attribute(&mut out, "name", name);
            attribute(&mut out, "value", value);
            out.push_str("/>");
        }
        out.push_str("</Stream></Connect></Response>");
        out
    }
}

fn attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_xml_into(out, value);
    out.push('"');
}

fn document(body: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#)
}

fn say(text: &str) -> String {
    let mut out = String::from("<Say>");
    escape_xml_into(&mut out, text);
    out.push_str("</Say>");
    out
}

/// `<Connect><Stream url>` with `parameters`, in order: the usual answer to
/// a voice webhook.
pub fn connect_stream(url: &str, parameters: &[(String, String)]) -> Result<String, TwimlError> {
    let stream = parameters
        .iter()
        .try_fold(ConnectStream::new(url)?, |s, (name, value)| {
            s.parameter(name, value)
        })?;
    Ok(stream.to_xml())
}

/// `<Say>message</Say><Hangup/>`: the polite answer when the engine is full.
pub fn reject_politely(message: &str) -> String {
    document(&format!("{}<Hangup/>", say(message)))
}

/// `<Hangup/>` alone.
pub fn hangup() -> String {
    document("<Hangup/>")
}

/// Who an escalation rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialTarget {
    /// A phone number, E.164 (`+15551234567`).
    Number(String),
    /// A Twilio Client identity (an agent's browser or app).
    Client(String),
}

/// `<Dial>`: hand the call to a human, optionally announcing it first.
#[derive(Clone, Debug)]
pub struct Dial {
    pub target: DialTarget,
    /// Said to the caller before dialing.
    pub announce: Option<String>,
    /// `callerId`: the number the human sees.
    pub caller_id: Option<String>,
    /// Seconds to ring before giving up (Twilio's default is 30).
    pub timeout_secs: Option<u32>,
}

/// `<Dial>` to `target`: `client:name` rings a Twilio Client agent,
/// anything else is dialed as a number.
pub fn dial(target: &str) -> Result<String, TwimlError> {
    let target = target.trim();
    let target = match target.strip_prefix("client:") {
        Some(agent) if !agent.is_empty() => DialTarget::Client(agent.to_owned()),
        None if !target.is_empty() => DialTarget::Number(target.to_owned()),
        _ => return Err(TwimlError::EmptyDialTarget),
    };
    Ok(Dial::new(target).to_xml())
}

impl Dial {
    pub fn new(target: DialTarget) -> Self {
        Dial {
            target,
            announce: None,
            caller_id: None,
            timeout_secs: None,
        }
    }

    /// The TwiML document.
    pub fn to_xml(&self) -> String {
        let mut body = self.announce.as_deref().map(say).unwrap_or_default();
        body.push_str("<Dial");
        if let Some(id) = &self.caller_id {
            attribute(&mut body, "callerId", id);
        }
        if let Some(t) = self.timeout_secs {
            // Writing to a String cannot fail.
            let _ = write!(body, " timeout=\"{t}\"");
        }
        body.push('>');
        let (tag, who) = match &self.target {
            DialTarget::Number(n) => ("Number", n),
            DialTarget::Client(c) => ("Client", c),
        };
        let _ = write!(body, "<{tag}>{}</{tag}>", escape_xml(who));
        body.push_str("</Dial>");
        document(&body)
    }
}
