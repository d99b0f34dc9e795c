//! `switchboard traces list|show|stats|export|prune`: the trace store from
//! the command line, read directly (sled allows one process at a time, so
//! run it against a stopped server's store or a copy).

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use switchboard_actors::ids::{CallSid, TenantId};
use switchboard_actors::store::{ExportFormat, Store, StoreConfig, TraceQuery, TraceSummary};
use switchboard_actors::trace::{CallStatus, Outcome};

#[derive(Args, Debug, Clone)]
pub struct TracesArgs {
    /// The trace store directory.
    #[arg(long, env = "SWITCHBOARD_STORE", default_value = "./data/traces")]
    pub store: PathBuf,
    #[command(subcommand)]
    pub command: TracesCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum TracesCommand {
    /// One page of traces, newest first.
    List(ListArgs),
    /// One whole trace as JSON.
    Show {
        call_id: String,
        /// Also print the call's event timeline.
        #[arg(long)]
        events: bool,
    },
    /// Daily statistics (seed 000), or a window's with --hours.
    Stats(StatsArgs),
    /// Every matching trace as JSONL or CSV.
    Export(ExportArgs),
    /// Delete traces past the retention period.
    Prune(PruneArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    #[arg(long)]
    pub company: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// RFC 3339 or YYYY-MM-DD (inclusive, to the end of that day).
    #[arg(long)]
    pub to: Option<String>,
    /// ai_resolved, escalated_to_human, caller_hung_up or error.
    #[arg(long)]
    pub outcome: Option<String>,
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Text said by the caller or the bot.
    #[arg(long)]
    pub text: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum StatusArg {
    Live,
    Ended,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[arg(long, default_value_t = 1)]
    pub page: u64,
    #[arg(long, default_value_t = 20)]
    pub limit: u64,
    /// Print the page as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Window statistics of the last N hours instead of daily ones.
    #[arg(long)]
    pub hours: Option<i64>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: FormatArg,
    /// Output file; standard output when absent.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    Jsonl,
    Csv,
}

#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// Retention in days (default: the store's, 90).
    #[arg(long)]
    pub days: Option<u32>,
    /// Count what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Traces per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// Run a `traces` subcommand, printing to standard output.
pub fn run_traces(args: TracesArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    run_traces_to(args, &mut stdout.lock())
}

/// Run a `traces` subcommand, printing to `out`.
pub fn run_traces_to(args: TracesArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut config = StoreConfig::at(&args.store);
    if let TracesCommand::Prune(p) = &args.command {
        config.retention_days = p.days.unwrap_or(config.retention_days);
    }
    if !args.store.exists() {
        bail!("no trace store at {}", args.store.display());
    }
    let store = Store::open(&config)
        .with_context(|| format!("opening {} (is a server using it?)", args.store.display()))?;
    match args.command {
        TracesCommand::List(l) => list(&store, &l, out),
        TracesCommand::Show { call_id, events } => show(&store, &call_id, events, out),
        TracesCommand::Stats(s) => stats(&store, &s, out),
        TracesCommand::Export(e) => export(&store, &e, out),
        TracesCommand::Prune(p) => {
            let report = store.janitor(Utc::now(), p.batch, p.dry_run)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            Ok(())
        }
    }
}

fn parse_date(v: &str, upper: bool) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Ok(d.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .with_context(|| format!("invalid date {v:?}: use RFC 3339 or YYYY-MM-DD"))?;
    let time = if upper {
        NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
    } else {
        NaiveTime::from_hms_opt(0, 0, 0)
    };
    Ok(day.and_time(time.context("valid time of day")?).and_utc())
}

fn query(f: &FilterArgs) -> anyhow::Result<TraceQuery> {
    let outcome = match &f.outcome {
        Some(o) => Some(Outcome::parse(o).with_context(|| format!("unknown outcome {o:?}"))?),
        None => None,
    };
    Ok(TraceQuery {
        company: f.company.as_deref().map(TenantId::new),
        from: f
            .from
            .as_deref()
            .map(|d| parse_date(d, false))
            .transpose()?,
        to: f.to.as_deref().map(|d| parse_date(d, true)).transpose()?,
        outcome,
        status: f.status.map(|s| match s {
            StatusArg::Live => CallStatus::Live,
            StatusArg::Ended => CallStatus::Ended,
        }),
        text: f.text.clone(),
        ..Default::default()
    })
}

fn list(store: &Store, l: &ListArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let q = TraceQuery {
        page: l.page.max(1),
        limit: l.limit.clamp(1, 1000),
        ..query(&l.filter)?
    };
    let page = store.list(&q)?;
    if l.json {
        let v = serde_json::json!({ "traces": page.items, "total": page.total, "page": page.page, "pages": page.pages });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<36} {:<16} {:<25} {:<20} {:>6} {:>10}",
        "CALL", "COMPANY", "STARTED", "OUTCOME", "TURNS", "COST USD"
    )?;
    for s in &page.items {
        writeln!(out, "{}", row(s))?;
    }
    writeln!(
        out,
        "page {} of {} ({} traces)",
        page.page, page.pages, page.total
    )?;
    Ok(())
}

fn row(s: &TraceSummary) -> String {
    let outcome = match s.status {
        CallStatus::Live => "live",
        CallStatus::Ended => s.final_outcome.as_str(),
    };
    format!(
        "{:<36} {:<16} {:<25} {:<20} {:>6} {:>10.4}",
        s.call_id,
        s.company_id,
        s.started_at.format("%Y-%m-%d %H:%M:%S%.3f"),
        outcome,
        s.stats.total_turns,
        s.stats.total_llm_cost_usd
    )
}

fn show(store: &Store, id: &str, events: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let call_id = CallSid::new(id);
    let trace = store
        .get_trace(&call_id)?
        .with_context(|| format!("no trace for call {id}"))?;
    writeln!(out, "{}", serde_json::to_string_pretty(&trace)?)?;
    if events {
        for e in store.events(&call_id, usize::MAX)? {
            writeln!(out, "{}", serde_json::to_string(&e)?)?;
        }
    }
    Ok(())
}

fn stats(store: &Store, s: &StatsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let q = query(&s.filter)?;
    let v = match s.hours {
        Some(h) if h > 0 => {
            let to = Utc::now();
            serde_json::to_value(store.window_stats(
                q.company.as_ref(),
                to - chrono::Duration::hours(h),
                to,
            )?)?
        }
        Some(h) => bail!("--hours must be positive, got {h}"),
        None => serde_json::to_value(store.daily_stats(q.company.as_ref(), q.from, q.to)?)?,
    };
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

fn export(store: &Store, e: &ExportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let format = match e.format {
        FormatArg::Jsonl => ExportFormat::Jsonl,
        FormatArg::Csv => ExportFormat::Csv,
    };
    let q = query(&e.filter)?;
    let n = match &e.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            store.export(&q, format, &mut w)?
        }
        None => store.export(&q, format, out)?,
    };
    eprintln!("exported {n} traces");
    Ok(())
}
