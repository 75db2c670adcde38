// SPDX-License-Identifier: GPL-2.0
//! QEMU's own CPU time, read host-side from `/proc/<pid>/task/*`: the vCPU threads apart
//! from the rest.
//!
//! Under TCG the vCPU threads (`CPU 0/TCG`, ... with `-name debug-threads=on`) run the guest,
//! the driver's copies and QEMU's device emulation on MMIO exits; the other threads (the main
//! loop, the VNC worker, RCU) are QEMU's display side: refreshing the display surface from
//! video memory for the viewer, encoding and sending it. A moved scanout start makes QEMU
//! replace its surface and redraw all of it, which shows there.

use std::path::Path;

use anyhow::anyhow;

use crate::Result;

/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on every Linux architecture).
const USER_HZ: f64 = 100.0;

/// CPU time of QEMU's threads in seconds: the vCPUs' and the rest's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QemuCpu {
    pub vcpu: f64,
    pub other: f64,
}

impl QemuCpu {
    /// What was spent between `before` and `self`.
    pub fn since(&self, before: &QemuCpu) -> QemuCpu {
        QemuCpu {
            vcpu: (self.vcpu - before.vcpu).max(0.0),
            other: (self.other - before.other).max(0.0),
        }
    }

    /// Adds one thread's time.
    fn add(&mut self, comm: &str, secs: f64) {
        if is_vcpu(comm) {
            self.vcpu += secs;
        } else {
            self.other += secs;
        }
    }
}

/// Whether a QEMU thread's name is a vCPU's: `CPU 0/TCG`, `CPU 1/KVM`, `CPU 3/HVF`.
pub fn is_vcpu(comm: &str) -> bool {
    comm.strip_prefix("CPU ")
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The thread's name and its CPU time in seconds from a `/proc/*/stat` line (utime + stime,
/// fields 14 and 15; the name, in brackets, may hold spaces and brackets).
pub fn parse_stat(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    // Fields from the third (state) on.
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) as f64 / USER_HZ))
}

/// The CPU time in seconds from a `/proc/*/schedstat` line (nanoseconds on the CPU first).
pub fn parse_schedstat(s: &str) -> Option<f64> {
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

/// One thread's name and CPU time: `schedstat` (nanoseconds) where the kernel has it, else
/// `stat` (clock ticks).
fn thread(dir: &Path) -> Option<(String, f64)> {
    let (stat_comm, ticks) = parse_stat(&std::fs::read_to_string(dir.join("stat")).ok()?)?;
    let comm = std::fs::read_to_string(dir.join("comm"))
        .map(|c| c.trim_end_matches('\n').to_string())
        .unwrap_or(stat_comm);
    let secs = std::fs::read_to_string(dir.join("schedstat"))
        .ok()
        .and_then(|s| parse_schedstat(&s))
        .unwrap_or(ticks);
    Some((comm, secs))
}

/// QEMU's CPU time so far, summed over its live threads.
pub fn sample(pid: u32) -> Result<QemuCpu> {
    let tasks = format!("/proc/{pid}/task");
    let dir = std::fs::read_dir(&tasks).map_err(|e| anyhow!("{tasks}: {e}"))?;
    let mut cpu = QemuCpu::default();
    for t in dir.flatten() {
        // A thread may end between the listing and the read.
        if let Some((comm, secs)) = thread(&t.path()) {
            cpu.add(&comm, secs);
        }
    }
    Ok(cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let l = "17203 (CPU 1/TCG) S 17190 17190 11401 0 -1 4194368 0 0 0 0 1234 56 0 0 20 0 \
                 5 0 1290155 2147483648 60000 18446744073709551615 1 1 0 0 0 0 0 4096 17991 0 \
                 0 0 -1 1 0 0 0 0 0";
        assert_eq!(parse_stat(l), Some(("CPU 1/TCG".into(), 12.9)));
        // A name with brackets and spaces, as a thread may set.
        let odd = "9 (a) (b c) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 0 0 0";
        assert_eq!(parse_stat(odd), Some(("a) (b c".into(), 0.1)));
        assert_eq!(parse_stat("9 (x) R 1"), None);
        assert_eq!(parse_schedstat("2001469723 447536 13\n"), Some(2.001469723));
        assert_eq!(parse_schedstat(""), None);
    }

    #[test]
    fn vcpu_threads_apart() {
        for v in ["CPU 0/TCG", "CPU 12/KVM", "CPU 3/HVF"] {
            assert!(is_vcpu(v), "{v}");
        }
        for o in [
            "qemu-system-aar",
            "IO mon_iothread",
            "vnc_worker",
            "call_rcu",
            "CPU x/TCG",
            "CPU /TCG",
        ] {
            assert!(!is_vcpu(o), "{o}");
        }
        let mut c = QemuCpu::default();
        c.add("CPU 0/TCG", 2.0);
        c.add("CPU 1/TCG", 1.0);
        c.add("qemu-system-aar", 0.5);
        assert_eq!(
            c,
            QemuCpu {
                vcpu: 3.0,
                other: 0.5
            }
        );
        let d = c.since(&QemuCpu {
            vcpu: 1.0,
            other: 0.25,
        });
        assert_eq!(
            d,
            QemuCpu {
                vcpu: 2.0,
                other: 0.25
            }
        );
    }

    #[test]
    fn samples_this_process() -> Result<()> {
        let c = sample(std::process::id())?;
        assert!(c.vcpu == 0.0 && c.other >= 0.0, "{c:?}");
        Ok(())
    }
}
