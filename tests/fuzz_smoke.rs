//! Runs each coverage-guided fuzz target in `fuzz/` briefly (cargo-fuzz,
//! libFuzzer, no sanitizer so it works on the stable toolchain). Under CI the
//! fuzzer must be present (`.ci/run` installs it); elsewhere the test says it
//! skipped when `cargo fuzz` is missing. A crash fails the test with the
//! fuzzer's output; the input is saved under fuzz/artifacts/.

use std::process::Command;

const SECONDS_PER_TARGET: &str = "20";

fn cargo_fuzz_available() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn fuzz_targets_run_clean_briefly() {
    if !cargo_fuzz_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "cargo-fuzz is required under CI (.ci/run installs it)"
        );
        eprintln!("skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)");
        return;
    }
    let fuzz_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");
    for target in ["parse_line", "command_path"] {
        let out = Command::new("cargo")
            .current_dir(fuzz_dir)
            .args(["fuzz", "run", "--sanitizer", "none", target, "--"])
            .arg(format!("-max_total_time={SECONDS_PER_TARGET}"))
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("cargo fuzz runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "fuzz target {target} failed:\n{}",
            stderr
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let done = stderr
            .lines()
            .find(|l| l.starts_with("Done "))
            .unwrap_or("(no summary)");
        eprintln!("{target}: {done}");
    }
}
