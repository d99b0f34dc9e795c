//! CPU and memory of a process, read from `/proc/<pid>/stat` (utime + stime,
//! fields 14 and 15, in clock ticks) and `/proc/<pid>/status` (`VmRSS`).
//! CPU is reported as percent of one core over the interval between two
//! readings (200 % = both cores of this machine busy).

use std::time::Instant;

use serde::Serialize;

/// Clock ticks per second of `/proc/<pid>/stat`. USER_HZ is 100 on every
/// Linux architecture we run on (x86_64, aarch64); reading it needs
/// `sysconf(_SC_CLK_TCK)`, which would pull in libc for one constant.
const TICKS_PER_SECOND: f64 = 100.0;

/// Which process to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProcTarget {
    /// This process (`/proc/self`).
    SelfProcess,
    Pid(u32),
}

impl ProcTarget {
    fn dir(self) -> String {
        match self {
            ProcTarget::SelfProcess => "/proc/self".to_owned(),
            ProcTarget::Pid(pid) => format!("/proc/{pid}"),
        }
    }
}

/// One raw reading.
#[derive(Debug, Clone, Copy)]
pub struct ProcReading {
    pub at: Instant,
    /// utime + stime in clock ticks.
    pub cpu_ticks: u64,
    pub rss_kb: u64,
}

/// Reads `/proc` for `target`; None if the process is gone or `/proc` is absent.
pub fn read(target: ProcTarget, at: Instant) -> Option<ProcReading> {
    let dir = target.dir();
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    Some(ProcReading {
        at,
        cpu_ticks: parse_cpu_ticks(&stat)?,
        rss_kb: parse_rss_kb(&status)?,
    })
}

/// utime + stime from a `/proc/<pid>/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // After the name: field 3 (state) is index 0, so utime (14) is index 11.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in kB from `/proc/<pid>/status`.
pub fn parse_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One point of the CPU/RSS time series.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProcSample {
    /// Seconds since the run started.
    pub t_s: f32,
    /// Percent of one core since the previous sample.
    pub cpu_pct: f32,
    pub rss_kb: u64,
}

/// Turns successive readings into a series of samples.
#[derive(Debug)]
pub struct ProcSeries {
    pub target: ProcTarget,
    start: Instant,
    last: Option<ProcReading>,
    pub samples: Vec<ProcSample>,
}

impl ProcSeries {
    pub fn new(target: ProcTarget, start: Instant) -> Self {
        ProcSeries {
            target,
            start,
            last: None,
            samples: Vec::new(),
        }
    }

    /// Takes a reading now and appends a sample (from the second reading on).
    pub fn sample(&mut self, now: Instant) {
        if let Some(r) = read(self.target, now) {
            self.push(r);
        }
    }

    /// Appends the sample between the previous reading and `r`.
    pub fn push(&mut self, r: ProcReading) {
        if let Some(prev) = self.last {
            let wall = r.at.saturating_duration_since(prev.at).as_secs_f64();
            if wall > 0.0 {
                let cpu_s = r.cpu_ticks.saturating_sub(prev.cpu_ticks) as f64 / TICKS_PER_SECOND;
                self.samples.push(ProcSample {
                    t_s: r.at.saturating_duration_since(self.start).as_secs_f32(),
                    cpu_pct: (cpu_s / wall * 100.0) as f32,
                    rss_kb: r.rss_kb,
                });
            }
        }
        self.last = Some(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cpu_ticks_skip_a_command_name_with_spaces() {
        let stat = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn rss_comes_from_vmrss() {
        let status = "Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t   12345 kB\nThreads: 3\n";
        assert_eq!(parse_rss_kb(status), Some(12345));
        assert_eq!(parse_rss_kb("Name: x\n"), None);
    }

    #[test]
    fn series_turns_tick_deltas_into_percent_of_a_core() {
        let t0 = Instant::now();
        let mut s = ProcSeries::new(ProcTarget::SelfProcess, t0);
        let reading = |ms, ticks| ProcReading {
            at: t0 + Duration::from_millis(ms),
            cpu_ticks: ticks,
            rss_kb: 1000,
        };
        s.push(reading(0, 100));
        s.push(reading(1000, 150));
        assert_eq!(s.samples.len(), 1);
        assert!((s.samples[0].cpu_pct - 50.0).abs() < 1e-3);
    }

    #[test]
    fn own_process_is_readable() {
        let r = read(ProcTarget::SelfProcess, Instant::now()).expect("/proc/self exists on Linux");
        assert!(r.rss_kb > 0);
    }
}
