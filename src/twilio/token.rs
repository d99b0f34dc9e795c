//! Per-call tokens: the voice webhook puts `call_token(secret, CallSid)` in a
//! TwiML `<Parameter name="token">`; Twilio hands it back in
//! `start.customParameters`, where the transport (or the
//! [`FrameGuard`](super::FrameGuard)) checks it. This ties a media socket to a
//! webhook we answered even when the upgrade signature cannot be checked.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Hex characters kept from the HMAC: 128 bits, plenty against guessing.
pub const TOKEN_HEX_LEN: usize = 32;

/// `hex(HMAC-SHA256(secret, call_sid))`, truncated to [`TOKEN_HEX_LEN`].
pub fn call_token(secret: &[u8], call_sid: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(call_sid.as_bytes());
    let mut token = hex::encode(mac.finalize().into_bytes());
    token.truncate(TOKEN_HEX_LEN);
    token
}

/// Whether `token` is the token of `call_sid`, compared in constant time.
pub fn verify_call_token(secret: &[u8], call_sid: &str, token: &str) -> bool {
    let expected = call_token(secret, call_sid);
    bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
}
