//! Process-wide counters, rendered in the Prometheus text format at
//! `/metrics`. Plain atomics: a counter bump on the per-frame path is one
//! relaxed add, no locks, no allocation.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $help:literal),* $(,)?) => {
        /// Counters of the HTTP/WebSocket edge.
        #[derive(Debug, Default)]
        pub struct Metrics { $(pub $name: AtomicU64,)* }

        impl Metrics {
            /// Append every counter in Prometheus text format.
            pub fn render_into(&self, out: &mut String) {
                $(
                    let _ = writeln!(out, "# HELP switchboard_{} {}", stringify!($name), $help);
                    let _ = writeln!(out, "# TYPE switchboard_{} counter", stringify!($name));
                    let _ = writeln!(out, "switchboard_{} {}", stringify!($name), self.$name.load(Ordering::Relaxed));
                )*
            }
        }
    };
}

counters! {
    ws_frames_in_total: "Text frames received on Twilio media sockets",
    ws_frames_out_total: "Frames written to Twilio media sockets",
    ws_media_in_total: "Inbound media frames forwarded to call actors",
    ws_unknown_events_total: "Inbound frames with an unknown event, ignored",
    ws_closed_bad_input_total: "Media sockets closed for malformed or abusive input",
    ws_closed_flood_total: "Media sockets closed for flooding",
    ws_closed_idle_total: "Media sockets closed after the idle timeout",
    ws_rejected_total: "Media sockets refused (capacity, signature, token)",
    webhook_voice_total: "Voice webhooks answered",
    webhook_rejected_full_total: "Voice webhooks answered with a polite hang-up (engine full)",
    webhook_bad_signature_total: "Webhooks refused for a bad X-Twilio-Signature",
    webhook_status_total: "Status callbacks received",
    events_ws_lagged_total: "Live events dropped for slow subscribers",
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Append one gauge line (with its HELP/TYPE header).
pub fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP switchboard_{name} {help}");
    let _ = writeln!(out, "# TYPE switchboard_{name} gauge");
    let _ = writeln!(out, "switchboard_{name} {value}");
}
