//! What the operating system allows and reports: the open-file limit, the
//! ephemeral port range, and a process's resident memory from /proc.
//!
//! Read-only probes plus one change, raising this process's RLIMIT_NOFILE soft
//! limit to its hard limit.

use std::path::Path;

/// Descriptors kept for things other than client sockets (pollers, stdio,
/// output files).
pub const RESERVED_FDS: u64 = 64;

/// The open-file limits after raising the soft one as far as allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub soft: u64,
    pub hard: u64,
}

impl FdLimit {
    /// Client sockets this process can hold.
    pub fn sockets(&self) -> u64 {
        self.soft.saturating_sub(RESERVED_FDS)
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit.
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let soft = rlimit::increase_nofile_limit(hard)?;
    Ok(FdLimit { soft, hard })
}

/// Local ports the kernel hands out for outgoing connections (per source
/// address and destination), from /proc/sys/net/ipv4/ip_local_port_range.
pub fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    let lo = it.next()??;
    let hi = it.next()??;
    (hi >= lo).then(|| hi - lo + 1)
}

/// Resident memory of a process in bytes (VmRSS in /proc/PID/status).
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(Path::new(&path))?;
    parse_vmrss(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{path}: no VmRSS line"),
        )
    })
}

fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    let unit = match words.next() {
        Some("kB") | Some("KB") => 1024,
        Some("mB") | Some("MB") => 1024 * 1024,
        _ => 1,
    };
    Some(n * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_rss() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        assert_eq!(
            parse_vmrss("Name: x\nVmRSS:\t  1234 kB\n"),
            Some(1234 * 1024)
        );
        assert_eq!(parse_vmrss("Name: x\n"), None);
    }

    #[test]
    fn port_range_is_readable() {
        assert!(ephemeral_ports().unwrap_or(1) > 0);
    }
}
