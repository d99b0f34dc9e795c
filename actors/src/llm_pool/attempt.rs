//! One attempt of one job on one endpoint, run as its own tokio task so the
//! pool actor never awaits a provider. Tokens go straight to the job's
//! output; the verdict goes back to the pool as a message. Aborting the
//! task drops the provider stream, which closes its HTTP connection.

use super::output::JobOutput;
use crate::providers::{Chat, ChatChunk, ChatError, ChatRequest, TokenUsage};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum AttemptResult {
    Completed {
        usage: Option<TokenUsage>,
    },
    /// `streamed`: tokens had reached the caller, so no retry is allowed.
    Failed {
        error: ChatError,
        streamed: bool,
    },
    /// The job was ended by someone else (cancel) while streaming.
    Abandoned,
}

pub struct Attempt {
    pub endpoint: Arc<dyn Chat>,
    pub request: ChatRequest,
    pub request_id: u64,
    pub output: Arc<JobOutput>,
    pub open_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Attempt {
    pub async fn run(self) -> AttemptResult {
        let opened =
            tokio::time::timeout(self.open_timeout, self.endpoint.open(self.request)).await;
        let mut stream = match opened {
            Err(_) => return failed(ChatError::Timeout("no response headers".into()), false),
            Ok(Err(error)) => return failed(error, false),
            Ok(Ok(stream)) => stream,
        };
        let mut usage = None;
        let mut streamed = false;
        loop {
            let next = match tokio::time::timeout(self.idle_timeout, stream.next()).await {
                Err(_) => return failed(ChatError::Timeout("stream went idle".into()), streamed),
                Ok(next) => next,
            };
            match next {
                None => return AttemptResult::Completed { usage },
                Some(Err(error)) => return failed(error, streamed),
                Some(Ok(ChatChunk::Token(text))) => {
                    if text.is_empty() {
                        continue;
                    }
                    if !self.output.token(self.request_id, text) {
                        return AttemptResult::Abandoned;
                    }
                    streamed = true;
                }
                Some(Ok(ChatChunk::Usage(u))) => usage = Some(u),
                // The usage chunk comes after the finish reason: keep reading.
                Some(Ok(ChatChunk::Finish { .. })) => {}
            }
        }
    }
}

fn failed(error: ChatError, streamed: bool) -> AttemptResult {
    AttemptResult::Failed { error, streamed }
}
