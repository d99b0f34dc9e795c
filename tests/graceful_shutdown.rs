//! Shutdown: new calls are refused, live calls are ended politely within the
//! grace period (the caller hears a goodbye), and their traces are flushed.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_live_calls_politely_and_keeps_their_traces() {
    let store = temp_store("shutdown-check");
    let store_for_config = store.clone();
    let app = start("shutdown", move |c| {
        quick(c);
        c.store.path = store_for_config;
    })
    .await;
    let phone = Phone::greeted(&app, "CAshut0001").await;
    let before = media_count(&phone.heard());

    let report = app.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        report.calls_cut, 0,
        "the call ended within the grace period"
    );
    let heard = phone.heard();
    assert!(
        media_count(&heard) > before,
        "a goodbye was spoken before hanging up"
    );
    assert!(
        heard.iter().any(|h| matches!(h, Heard::Closed { .. })),
        "the socket was closed"
    );

    // The store is closed with the engine: reopen it and find the trace.
    let reopened = switchboard_actors::store::Store::open_at(&store, Default::default())
        .expect("store reopens");
    let trace = reopened
        .get_trace(&"CAshut0001".into())
        .unwrap()
        .expect("trace flushed");
    assert_eq!(trace.status, switchboard_actors::trace::CallStatus::Ended);
    let _ = std::fs::remove_dir_all(&store);
}
