//! Identifiers and units that are easy to mix up, as newtypes.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_id!(
    /// Twilio's call id (`CA…`); the key of a call everywhere in Switchboard.
    CallSid
);
string_id!(
    /// Twilio's media stream id (`MZ…`); needed on every outbound frame.
    StreamSid
);
string_id!(
    /// The tenant (company) a call belongs to; scopes scenarios, keys and traces.
    TenantId
);

/// Milliseconds of media or wall time; a plain count, never a clock reading.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// Media time of `samples` at 8 kHz.
    pub fn from_samples_8k(samples: u64) -> Self {
        Millis(samples / 8)
    }
}
