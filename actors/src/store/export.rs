//! Export of a filtered set of traces: JSONL (one whole trace per line) or
//! CSV (one summary row per call, RFC 4180 quoting).

use super::query::TraceQuery;
use super::summary::TraceSummary;
use super::{Result, Store};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

const CSV_HEADER: &str = "callId,companyId,channel,direction,callerNumber,calledNumber,startedAt,endedAt,\
totalDurationMs,status,finalOutcome,endReason,totalTurns,tier1Hits,tier2Hits,tier3Hits,nullResponses,\
escalations,interruptions,restarts,totalLLMCostUsd";

impl Store {
    /// Write every trace matching `q` (pagination ignored) to `out`; returns
    /// how many were written.
    pub fn export(&self, q: &TraceQuery, format: ExportFormat, out: &mut dyn Write) -> Result<u64> {
        let mut n = 0u64;
        if format == ExportFormat::Csv {
            writeln!(out, "{CSV_HEADER}")?;
        }
        self.for_each_match(q, |s| {
            match format {
                ExportFormat::Jsonl => {
                    if let Some(t) = self.trace_by_str(s.call_id.as_str())? {
                        serde_json::to_writer(&mut *out, &t)?;
                        out.write_all(b"\n")?;
                    }
                }
                ExportFormat::Csv => writeln!(out, "{}", csv_row(&s))?,
            }
            n += 1;
            Ok(true)
        })?;
        out.flush()?;
        Ok(n)
    }
}

fn csv_row(s: &TraceSummary) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let status = serde_json::to_value(s.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    let fields = [
        s.call_id.to_string(),
        s.company_id.to_string(),
        s.channel.clone(),
        opt(&s.direction),
        opt(&s.caller_number),
        opt(&s.called_number),
        s.started_at.to_rfc3339(),
        s.ended_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
        s.total_duration_ms
            .map(|d| d.to_string())
            .unwrap_or_default(),
        status.unwrap_or_default(),
        s.final_outcome.as_str().to_owned(),
        opt(&s.end_reason),
        s.stats.total_turns.to_string(),
        s.stats.tier1_hits.to_string(),
        s.stats.tier2_hits.to_string(),
        s.stats.tier3_hits.to_string(),
        s.stats.null_responses.to_string(),
        s.stats.escalations.to_string(),
        s.stats.interruptions.to_string(),
        s.stats.restarts.to_string(),
        format!("{}", s.stats.total_llm_cost_usd),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// RFC 4180: quote fields with separators, quotes or line breaks, doubling
/// inner quotes.
pub fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_quotes_separators_and_doubles_quotes() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
