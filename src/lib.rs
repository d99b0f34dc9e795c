//! Switchboard's edges: HTTP and the Twilio WebSocket (actix-web + actix-ws),
//! Twilio wire types, provider clients, mock providers, the load generator
//! and the command line. The actor tree lives in `switchboard-actors`, the
//! audio in `switchboard-codecs`.

pub mod app;
pub mod cli_traces;
pub mod config;
pub mod http;
pub mod loadgen;
pub mod metrics;
pub mod mocks;
pub mod providers;
pub mod runner;
pub mod twilio;
