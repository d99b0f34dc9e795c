//! The call set-up a simulated caller does before streaming: the voice
//! webhook POST with Twilio's form fields and `X-Twilio-Signature`
//! (PROTOCOLS.md 2), and a tolerant scan of the TwiML it returns for the
//! `<Stream url>` and its `<Parameter>`s.

use base64::Engine as _;
use hmac::{Hmac, Mac};

/// `base64(HMAC-SHA1(token, url + sorted name+value pairs))`, Twilio's
/// webhook signature. Repeated names are ordered by value too.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<_> = params.to_vec();
    sorted.sort_unstable();
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key size");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What the TwiML told the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwimlAction {
    /// `<Connect><Stream url>` with its `<Parameter>`s.
    Stream {
        url: String,
        parameters: Vec<(String, String)>,
    },
    /// No stream: a hang-up, reject, or anything else ends the call here.
    NoStream,
}

/// Scans TwiML for the first `<Stream url=...>` and the `<Parameter>`s
/// inside it. Tolerant: attribute order, quotes and whitespace may vary.
pub fn parse_twiml(body: &str) -> TwimlAction {
    let Some(stream_at) = find_tag(body, 0, "Stream") else {
        return TwimlAction::NoStream;
    };
    let Some((attrs, after)) = tag_attrs(body, stream_at) else {
        return TwimlAction::NoStream;
    };
    let Some(url) = attr(attrs, "url") else {
        return TwimlAction::NoStream;
    };
    let end = body[after..]
        .find("</Stream")
        .map_or(body.len(), |i| after + i);
    let mut parameters = Vec::new();
    let mut at = after;
    while let Some(p) = find_tag(&body[..end], at, "Parameter") {
        let Some((attrs, next)) = tag_attrs(body, p) else {
            break;
        };
        if let (Some(n), Some(v)) = (attr(attrs, "name"), attr(attrs, "value")) {
            parameters.push((n, v));
        }
        at = next;
    }
    TwimlAction::Stream { url, parameters }
}

/// Position of the next `<name` tag (followed by whitespace, `/` or `>`).
fn find_tag(body: &str, from: usize, name: &str) -> Option<usize> {
    let mut at = from;
    loop {
        let i = body.get(at..)?.find('<')? + at;
        let rest = &body[i + 1..];
        if let Some(tail) = rest.strip_prefix(name) {
            if tail.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>') {
                return Some(i);
            }
        }
        at = i + 1;
    }
}

/// The attribute text of the tag at `start` and the position after it.
fn tag_attrs(body: &str, start: usize) -> Option<(&str, usize)> {
    let close = body[start..].find('>')? + start;
    Some((&body[start..close], close + 1))
}

/// Value of `name="..."` (or single quotes) in a tag, XML-unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut at = 0;
    while let Some(i) = tag[at..].find(name) {
        let i = at + i;
        let before_ok = i > 0 && tag[..i].ends_with(|c: char| c.is_whitespace());
        let rest = tag[i + name.len()..].trim_start();
        if let (true, Some(rest)) = (before_ok, rest.strip_prefix('=')) {
            let rest = rest.trim_start();
            let quote = rest.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &rest[1..];
                let end = value.find(quote)?;
                return Some(xml_unescape(&value[..end]));
            }
        }
        at = i + name.len();
    }
    None
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The stream URL as Twilio would use it: absolute URLs as written, a
/// relative one resolved against the public base with `wss`/`ws`.
pub fn absolute_stream_url(stream_url: &str, public_base: &str) -> String {
    if !stream_url.starts_with('/') {
        return stream_url.to_owned();
    }
    let base = public_base.trim_end_matches('/');
    let ws_base = match base.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => base.to_owned(),
    };
    format!("{ws_base}{stream_url}")
}

/// Maps the TwiML stream URL onto the target: the path (and query) of the
/// `wss://public-host/...` URL on the target base URL's host, as `ws://`
/// (or `wss://` when the target is `https://`). The engine is plain HTTP on
/// loopback while its TwiML names its public host.
pub fn local_stream_url(stream_url: &str, target_base: &str) -> Result<String, url::ParseError> {
    let stream = url::Url::parse(stream_url)?;
    let mut local = url::Url::parse(target_base)?;
    let scheme = if local.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    local
        .set_scheme(scheme)
        .map_err(|()| url::ParseError::EmptyHost)?;
    local.set_path(stream.path());
    local.set_query(stream.query());
    Ok(local.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const VECTOR_PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];

    #[test]
    fn signature_matches_twilio_test_vectors() {
        assert_eq!(
            twilio_signature("12345", VECTOR_URL, &VECTOR_PARAMS),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", with_port, &VECTOR_PARAMS),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        let repeated = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ];
        assert_eq!(
            twilio_signature("12345", VECTOR_URL, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn twiml_stream_and_parameters_are_found() {
        let twiml = r#"<?xml version="1.0"?><Response><Connect>
            <Stream url="wss://example.com/twilio/media">
              <Parameter name="token" value="a&amp;b"/>
              <Parameter value='v2' name='second' />
            </Stream></Connect></Response>"#;
        let TwimlAction::Stream { url, parameters } = parse_twiml(twiml) else {
            panic!("stream expected");
        };
        assert_eq!(url, "wss://example.com/twilio/media");
        assert_eq!(
            parameters,
            [
                ("token".to_owned(), "a&b".to_owned()),
                ("second".to_owned(), "v2".to_owned())
            ]
        );
    }

    #[test]
    fn hangup_twiml_has_no_stream() {
        let twiml = "<Response><Say>Busy</Say><Hangup/></Response>";
        assert_eq!(parse_twiml(twiml), TwimlAction::NoStream);
        assert_eq!(parse_twiml("not xml at all <"), TwimlAction::NoStream);
        assert_eq!(parse_twiml("<StreamX url=\"x\">"), TwimlAction::NoStream);
    }

    #[test]
    fn stream_url_maps_onto_the_target_host() {
        let local = local_stream_url("wss://public.example/twilio/media", "http://127.0.0.1:8080")
            .expect("valid URLs");
        assert_eq!(local, "ws://127.0.0.1:8080/twilio/media");
    }

    #[test]
    fn relative_stream_url_resolves_against_the_public_base() {
        let abs = absolute_stream_url("/twilio/media", "https://voice.example.com/");
        assert_eq!(abs, "wss://voice.example.com/twilio/media");
        let kept = absolute_stream_url("wss://x.example/m", "https://voice.example.com");
        assert_eq!(kept, "wss://x.example/m");
    }
}
