//! `loadgen`: parses the command line and hands it to the library.
//! Exit status: 0 passed, 1 the run found problems, 2 it could not start.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = loadgen::Cli::parse();
    let argv = std::env::args().collect();
    match loadgen::execute(&cli, argv, &mut std::io::stdout().lock()) {
        Ok(report) if report.passed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(2)
        }
    }
}
