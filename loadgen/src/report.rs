//! The results of a run and every way they are written out: the human table
//! on stdout, the JSON summary (`--json`), HdrHistogram's percentile
//! distribution text (`--hgrm`) and the latency-by-percentile SVG (`--plot`).
//!
//! It owns formatting only; the numbers come from the merged [`Stats`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::options::Scenario;
use crate::stats::Stats;

/// Percentile summary of one latency histogram, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// What was measured, in words.
    pub what: String,
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub stddev_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p99_9_us: u64,
    pub p99_99_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(what: &str, h: &Histogram<u64>) -> Latency {
        let empty = h.is_empty();
        let at = |q: f64| if empty { 0 } else { h.value_at_quantile(q) };
        Latency {
            what: what.to_string(),
            count: h.len(),
            min_us: if empty { 0 } else { h.min() },
            mean_us: if empty { 0.0 } else { h.mean() },
            stddev_us: if empty { 0.0 } else { h.stdev() },
            p50_us: at(0.5),
            p90_us: at(0.9),
            p99_us: at(0.99),
            p99_9_us: at(0.999),
            p99_99_us: at(0.9999),
            max_us: if empty { 0 } else { h.max() },
        }
    }
}

/// Client counts.
#[derive(Debug, Clone, Serialize)]
pub struct Clients {
    pub requested: u64,
    /// TCP connections that completed.
    pub connected: u64,
    pub registered: u64,
    /// Registered and in all their channels.
    pub ready: u64,
    pub failed: u64,
    /// Ready clients disconnected during the run.
    pub dropped: u64,
    pub pings_answered: u64,
    /// Failures before ready, by reason.
    pub failures: BTreeMap<String, u64>,
    /// Disconnections after ready, by reason.
    pub drops: BTreeMap<String, u64>,
}

/// Message counts (`channel` and `private`).
#[derive(Debug, Clone, Serialize)]
pub struct Messages {
    pub sent: u64,
    pub expected: u64,
    pub delivered: u64,
    /// Expected deliveries that never arrived.
    pub lost: u64,
    pub out_of_order: u64,
    /// Sequence numbers skipped at the time a later message arrived.
    pub gaps: u64,
    /// PRIVMSGs without a valid stamp for the receiver (e.g. echoes).
    pub unexpected: u64,
    /// Messages intended for the measured period, and their deliveries.
    pub measured_sent: u64,
    pub measured_delivered: u64,
    pub measured_secs: f64,
    pub sends_per_sec: f64,
    pub deliveries_per_sec: f64,
    /// Messages per second asked for (`null` for `--rate max`).
    pub target_rate: Option<f64>,
    pub channels: u32,
    pub members: u32,
    pub senders_per_group: u32,
}

/// Server memory (`idle --server-pid`).
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub server_pid: u32,
    pub rss_before_bytes: Option<u64>,
    pub rss_after_bytes: Option<u64>,
    /// (after - before) / ready clients.
    pub bytes_per_client: Option<f64>,
    /// Why a reading is missing, if one is.
    pub error: Option<String>,
}

/// Everything a run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub loadgen_version: &'static str,
    /// The command line as given.
    pub argv: Vec<String>,
    /// Every option with the value used (defaults filled in).
    pub options: Scenario,
    pub scenario: &'static str,
    pub target: String,
    pub threads: usize,
    pub fd_soft_limit: u64,
    pub fd_hard_limit: u64,
    pub elapsed_secs: f64,
    pub timed_out: bool,
    pub clients: Clients,
    pub connect_latency: Latency,
    pub messages: Option<Messages>,
    pub message_latency: Option<Latency>,
    pub memory: Option<Memory>,
    /// Remarks that do not fail the run.
    pub notes: Vec<String>,
    /// Why the run failed; empty when it passed.
    pub problems: Vec<String>,
    pub passed: bool,
}

impl Report {
    /// Client counts from merged stats.
    pub fn clients(requested: u64, connected: u64, s: &Stats) -> Clients {
        Clients {
            requested,
            connected,
            registered: s.registered,
            ready: s.ready,
            failed: s.failed(),
            dropped: s.dropped(),
            pings_answered: s.pings,
            failures: s.failures.clone(),
            drops: s.drops.clone(),
        }
    }

    /// The human-readable summary.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let c = &self.clients;
        let _ = writeln!(
            t,
            "loadgen {} -> {}  ({} threads, {:.1}s{})",
            self.scenario,
            self.target,
            self.threads,
            self.elapsed_secs,
            if self.timed_out { ", TIMED OUT" } else { "" }
        );
        let _ = writeln!(
            t,
            "clients   requested {}  connected {}  registered {}  ready {}  failed {}  dropped {}",
            c.requested, c.connected, c.registered, c.ready, c.failed, c.dropped
        );
        for (title, map) in [("failures", &c.failures), ("dropped", &c.drops)] {
            if !map.is_empty() {
                let _ = writeln!(t, "{title} by reason:");
                for (reason, n) in map {
                    let _ = writeln!(t, "  {n:>8}  {reason}");
                }
            }
        }
        if let Some(m) = &self.messages {
            let _ = writeln!(
                t,
                "messages  sent {}  expected {}  delivered {}  lost {}  out-of-order {}  unexpected {}",
                m.sent, m.expected, m.delivered, m.lost, m.out_of_order, m.unexpected
            );
            let rate = m
                .target_rate
                .map_or_else(|| "max".to_string(), |r| format!("{r}"));
            let _ = writeln!(
                t,
                "measured  {:.1}s: {:.0} msgs/s sent (asked {}), {:.0} deliveries/s",
                m.measured_secs, m.sends_per_sec, rate, m.deliveries_per_sec
            );
        }
        if let Some(mem) = &self.memory {
            let mib = |b: Option<u64>| {
                b.map_or_else(
                    || "?".into(),
                    |b| format!("{:.1} MiB", b as f64 / 1048576.0),
                )
            };
            let _ = writeln!(
                t,
                "server    pid {}  RSS before {}  after {}  per client {}",
                mem.server_pid,
                mib(mem.rss_before_bytes),
                mib(mem.rss_after_bytes),
                mem.bytes_per_client
                    .map_or_else(|| "?".into(), |b| format!("{b:.0} bytes"))
            );
            if let Some(e) = &mem.error {
                let _ = writeln!(t, "          ({e})");
            }
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
        );
        for l in std::iter::once(&self.connect_latency).chain(self.message_latency.as_ref()) {
            let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
            let _ = writeln!(
                t,
                "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.3}",
                l.what,
                l.count,
                ms(l.p50_us),
                ms(l.p90_us),
                ms(l.p99_us),
                ms(l.p99_9_us),
                ms(l.p99_99_us),
                ms(l.max_us),
                l.mean_us / 1000.0
            );
        }
        for n in &self.notes {
            let _ = writeln!(t, "note: {n}");
        }
        if self.passed {
            let _ = writeln!(t, "result: PASS");
        } else {
            for p in &self.problems {
                let _ = writeln!(t, "problem: {p}");
            }
            let _ = writeln!(t, "result: FAIL");
        }
        t
    }

    /// Writes the JSON summary.
    pub fn write_json(&self, path: &Path) -> io::Result<()> {
        let mut f = io::BufWriter::new(std::fs::File::create(path)?);
        serde_json::to_writer_pretty(&mut f, self).map_err(io::Error::other)?;
        writeln!(f)?;
        f.flush()
    }
}

/// Writes `h` (microseconds) in HdrHistogram's percentile-distribution text
/// format with values in milliseconds, as `outputPercentileDistribution`
/// with 5 ticks per half distance and a scaling ratio of 1000 prints it.
pub fn write_hgrm(h: &Histogram<u64>, out: &mut impl Write) -> io::Result<()> {
    const SCALE: f64 = 1000.0;
    let digits = usize::from(h.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    out,
                    "{value:>12.digits$} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10}")?;
            }
        }
    }
    let (mean, sd, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / SCALE, h.stdev() / SCALE, h.max() as f64 / SCALE)
    };
    writeln!(
        out,
        "#[Mean    = {mean:>12.digits$}, StdDeviation   = {sd:>12.digits$}]"
    )?;
    writeln!(
        out,
        "#[Max     = {max:>12.digits$}, Total count    = {:>12}]",
        h.len()
    )?;
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets
    )?;
    Ok(())
}

/// Writes the `--hgrm` file.
pub fn write_hgrm_file(h: &Histogram<u64>, path: &Path) -> io::Result<()> {
    let mut f = io::BufWriter::new(std::fs::File::create(path)?);
    write_hgrm(h, &mut f)?;
    f.flush()
}

/// Draws latency (ms) against percentile on a log "nines" axis, as SVG.
pub fn write_plot(h: &Histogram<u64>, title: &str, path: &Path) -> io::Result<()> {
    use plotters::prelude::*;

    let mut points: Vec<(f64, f64)> = if h.is_empty() {
        Vec::new()
    } else {
        h.iter_quantiles(5)
            .filter(|v| v.quantile_iterated_to() < 1.0)
            .map(|v| {
                let q = v.quantile_iterated_to();
                (
                    (1.0 / (1.0 - q)).log10(),
                    v.value_iterated_to() as f64 / 1000.0,
                )
            })
            .filter(|p| p.0.is_finite())
            .collect()
    };
    if !h.is_empty() {
        // The maximum, at the finest percentile the count resolves.
        let last_x = points.last().map_or(0.0, |p| p.0);
        let x = (h.len().max(10) as f64).log10().max(last_x);
        points.push((x, h.max() as f64 / 1000.0));
    }
    let x_max = points.iter().map(|p| p.0).fold(1.0f64, f64::max).ceil();
    let y_max = points.iter().map(|p| p.1).fold(0.001f64, f64::max) * 1.1;

    let err = |e: &dyn std::fmt::Display| io::Error::other(format!("plot: {e}"));
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .margin_right(48)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&|x| nines_label(*x))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(points, &BLUE))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Label for a position on the nines axis: 0 -> "0%", 1 -> "90%", 3 -> "99.9%".
fn nines_label(x: f64) -> String {
    let pct = 100.0 * (1.0 - 10f64.powf(-x));
    let decimals = (x.round() as i64 - 2).max(0) as usize;
    format!("{pct:.decimals$}%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn hgrm_has_the_standard_shape() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let mut out = Vec::new();
        write_hgrm(&h, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<_> = text.lines().filter(|l| l.starts_with(' ')).collect();
        assert!(rows.len() > 20);
        let last: Vec<_> = rows.last().unwrap().split_whitespace().collect();
        assert_eq!(last.len(), 3);
        assert_eq!(last[1], "1.000000000000");
        assert_eq!(last[2], "1000");
        assert!(text.contains("#[Mean    ="));
        assert!(text.contains("Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn nines_labels() {
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
    }

    #[test]
    fn plots_are_svg() {
        let mut h = new_histogram();
        for v in 1..=500u64 {
            h.record(v).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("loadgen-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.svg");
        write_plot(&h, "test", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("percentile"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
