//! `X-Twilio-Signature` (PROTOCOLS.md 2.1): how Twilio signs a webhook and
//! how we check it, following twilio-python's `RequestValidator`.
//!
//! The signed string is the full URL Twilio requested (scheme, host, path,
//! query, untouched) followed by every form parameter as `name + value`,
//! sorted by name then value, identical pairs counted once; the signature is
//! `base64(HMAC-SHA1(auth_token, that string))`. Because Twilio is not
//! consistent about default ports, [`validate`] accepts the signature of the
//! URL with the port removed or with the scheme's default port added.
//!
//! The HTTP layer must rebuild the URL as Twilio saw it (public scheme and
//! host from config, then path and raw query), not as the proxy forwarded it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `base64(HMAC-SHA1(auth_token, url + sorted params))`.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature_header` signs this form POST (or GET, with `params`
/// empty), for `url` with or without its default port.
pub fn validate(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature_header: &str,
) -> bool {
    let header = signature_header.trim().as_bytes();
    let (without_port, with_port) = port_variants(url);
    let a = compute_signature(auth_token, &without_port, params);
    let b = compute_signature(auth_token, &with_port, params);
    bool::from(a.as_bytes().ct_eq(header) | b.as_bytes().ct_eq(header))
}

/// A JSON-body webhook: `url` carries `bodySHA256=<hex sha256(body)>` in its
/// query and the signature covers the URL alone.
pub fn validate_json_body(
    auth_token: &str,
    url: &str,
    body: &[u8],
    signature_header: &str,
) -> bool {
    let Some(claimed) = query_param(url, "bodySHA256") else {
        return false;
    };
    let actual = hex::encode(Sha256::digest(body));
    let body_ok = actual
        .as_bytes()
        .ct_eq(claimed.to_ascii_lowercase().as_bytes());
    let sig_ok = validate(auth_token, url, &[], signature_header);
    bool::from(body_ok) && sig_ok
}

/// The WebSocket upgrade of a media stream: Twilio signs the `wss://` URL
/// exactly as written in the TwiML's `<Stream url>`, with no parameters.
/// Pass that URL, not one rebuilt as `https://`.
pub fn validate_ws_upgrade(auth_token: &str, stream_url: &str, signature_header: &str) -> bool {
    validate(auth_token, stream_url, &[], signature_header)
}

/// The value of `name` in the query of `url`, raw (not percent-decoded).
fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The pieces of a URL's authority that matter for ports.
struct Authority<'u> {
    /// `scheme://` plus any `user:pass@`.
    prefix: &'u str,
    host: &'u str,
    port: Option<&'u str>,
    /// Path, query and fragment, untouched.
    rest: &'u str,
    scheme: &'u str,
}

fn split_authority(url: &str) -> Option<Authority<'_>> {
    let scheme_end = url.find("://")?;
    let after = scheme_end + 3;
    let auth_end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    let host_start = url[after..auth_end]
        .rfind('@')
        .map_or(after, |i| after + i + 1);
    let hostport = &url[host_start..auth_end];
    // A bracketed IPv6 host holds colons of its own; the port follows `]`.
    let search_from = hostport.find(']').unwrap_or(0);
    let (host, port) = match hostport[search_from..].rfind(':') {
        Some(i) => {
            let colon = search_from + i;
            (&hostport[..colon], Some(&hostport[colon + 1..]))
        }
        None => (hostport, None),
    };
    let port = port.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host = if port.is_some() { host } else { hostport };
    Some(Authority {
        prefix: &url[..host_start],
        host,
        port,
        rest: &url[auth_end..],
        scheme: &url[..scheme_end],
    })
}

/// `url` without any port, and `url` with its port (the scheme's default
/// when none is written), like twilio-python's `remove_port` / `add_port`.
fn port_variants(url: &str) -> (String, String) {
    let Some(a) = split_authority(url) else {
        return (url.to_owned(), url.to_owned());
    };
    let without = format!("{}{}{}", a.prefix, a.host, a.rest);
    let with = match a.port {
        Some(_) => url.to_owned(),
        None => {
            let default = match a.scheme.to_ascii_lowercase().as_str() {
                "https" | "wss" => 443,
                _ => 80,
            };
            format!("{}{}:{}{}", a.prefix, a.host, default, a.rest)
        }
    };
    (without, with)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variants_add_and_remove_default_ports() {
        let (a, b) = port_variants("https://h.com/p?x=1");
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("https://h.com/p?x=1", "https://h.com:443/p?x=1")
        );
        let (a, b) = port_variants("wss://u:p@h.com:8443/m");
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("wss://u:p@h.com/m", "wss://u:p@h.com:8443/m")
        );
        let (a, b) = port_variants("http://[::1]/x");
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("http://[::1]/x", "http://[::1]:80/x")
        );
        let (a, b) = port_variants("not a url");
        assert_eq!((a.as_str(), b.as_str()), ("not a url", "not a url"));
    }

    #[test]
    fn query_param_finds_exact_name_only() {
        let url = "https://h/p?xbodySHA256=1&bodySHA256=abc#frag";
        assert_eq!(query_param(url, "bodySHA256"), Some("abc"));
        assert_eq!(query_param("https://h/p", "bodySHA256"), None);
    }
}
