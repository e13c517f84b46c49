//! loadgen: a load generator for IRC servers.
//!
//! It speaks plain IRC, so it can load parley, ngircd, InspIRCd or Ergo alike,
//! and drives every client from a few non-blocking event loops (one per
//! thread, on `polling`), never a thread per client.
//!
//! - [`options`]: the command line (scenarios and their settings).
//! - [`plan`]: names, channel/pair layout and the message stamp format.
//! - [`shared`]: settings and counters shared by the coordinator and threads.
//! - [`engine`]: the event loop and the client state machine.
//! - [`scenario`]: runs a scenario through its phases and judges the result.
//! - [`stats`]: per-thread measurements and their merge.
//! - [`report`]: the table, JSON, hgrm and SVG outputs.
//! - [`sys`]: open-file limit, ephemeral ports, server RSS.
#![deny(unsafe_code)]

pub mod engine;
pub mod options;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod shared;
pub mod stats;
pub mod sys;

use std::io::Write;

pub use options::Cli;
pub use report::Report;
pub use scenario::SetupError;

/// Runs the scenario, prints the table to `out` and writes the files the
/// options ask for. A run that found problems is still `Ok`: look at
/// `Report::passed`.
pub fn execute(cli: &Cli, argv: Vec<String>, out: &mut impl Write) -> Result<Report, SetupError> {
    let scenario::Outcome { report, stats } = scenario::run(cli, argv)?;
    let _ = out.write_all(report.table().as_bytes());
    let _ = out.flush();
    let common = cli.scenario.common();
    let (hist, what) = if report.message_latency.is_some() {
        (&stats.message_latency, "end-to-end message latency")
    } else {
        (&stats.connect_latency, "connect+registration latency")
    };
    let io_err = |what: &str, path: &std::path::Path, e: std::io::Error| {
        SetupError(format!("writing {what} {}: {e}", path.display()))
    };
    if let Some(p) = &common.hgrm {
        report::write_hgrm_file(hist, p).map_err(|e| io_err("--hgrm", p, e))?;
    }
    if let Some(p) = &common.json {
        report.write_json(p).map_err(|e| io_err("--json", p, e))?;
    }
    if let Some(p) = &common.plot {
        let title = format!("loadgen {}: {what}", report.scenario);
        report::write_plot(hist, &title, p).map_err(|e| io_err("--plot", p, e))?;
    }
    Ok(report)
}
