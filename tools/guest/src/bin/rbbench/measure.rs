// SPDX-License-Identifier: GPL-2.0
//! Timing an update loop and what the driver says it copied.

use std::io::{BufRead, Write};

use anyhow::anyhow;
use rbguest::{driver_state, state_value, Result};
use rustix::time::{clock_gettime, ClockId};

/// CPU time of the calling thread, in seconds.
pub fn cpu_now() -> f64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// The median of `v` (0 for none).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Tells the host that a timed loop begins or ends (`what`), when it asked to follow them
/// (`rbbench --sync`): prints `SYNC what name` and waits for the host's line on stdin, so the
/// host reads QEMU's counters with the guest standing still at the loop's edge.
pub fn sync(on: bool, what: &str, name: &str) -> Result<()> {
    if !on {
        return Ok(());
    }
    println!("SYNC {what} {name}");
    std::io::stdout()
        .flush()
        .map_err(|e| anyhow!("stdout: {e}"))?;
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| anyhow!("stdin: {e}"))?;
    if n == 0 {
        return Err(anyhow!(
            "stdin closed while waiting for the host ({what} {name})"
        ));
    }
    Ok(())
}

/// The driver's total copy counters, when it has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    pub commits: u64,
    pub bytes: u64,
    /// Time spent copying, in nanoseconds (rbochs only).
    pub copy_ns: Option<u64>,
    /// Scanout flips (a double-buffering rbochs).
    pub flips: Option<u64>,
    /// `double` or `single` (a double-buffering rbochs).
    pub buffering: Option<String>,
}

impl Counters {
    /// From a debugfs state (`key: value` lines); `None` without `commits` and `bytes`.
    pub fn parse(st: &str) -> Option<Counters> {
        let get = |key: &str| state_value(st, key);
        let buffering = st
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == "buffering")
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()));
        Some(Counters {
            commits: get("commits")?,
            bytes: get("bytes")?,
            copy_ns: get("copy_ns"),
            flips: get("flips"),
            buffering,
        })
    }
}

pub fn counters(has: bool) -> Option<Counters> {
    if !has {
        return None;
    }
    Counters::parse(&driver_state()?)
}

/// What the driver copied per update between two counter readings, for the `BENCH` line:
/// `bytes=`, `copy_ms=` (the driver's own time in the copy), `flips=` and `buffering=`.
#[derive(Debug, PartialEq, Eq)]
pub struct Copied {
    pub bytes: String,
    pub copy_ms: String,
    pub flips: String,
    pub buffering: String,
}

impl Copied {
    /// Per update, over `ops` updates (`None`: per commit the driver counted).
    pub fn between(before: Option<Counters>, after: Option<Counters>, ops: Option<u64>) -> Self {
        let na = || "na".to_string();
        let none = || Self {
            bytes: na(),
            copy_ms: na(),
            flips: na(),
            buffering: na(),
        };
        let (Some(b), Some(a)) = (before, after) else {
            return none();
        };
        let n = ops.unwrap_or(a.commits.saturating_sub(b.commits));
        if n == 0 {
            return none();
        }
        let n = n as f64;
        let per = |x: Option<u64>, y: Option<u64>, scale: f64, prec: usize| match (x, y) {
            (Some(x), Some(y)) => format!("{:.prec$}", y.saturating_sub(x) as f64 / n / scale),
            _ => na(),
        };
        Self {
            bytes: format!("{:.0}", a.bytes.saturating_sub(b.bytes) as f64 / n),
            copy_ms: per(b.copy_ns, a.copy_ns, 1e6, 4),
            flips: per(b.flips, a.flips, 1.0, 3),
            buffering: a.buffering.unwrap_or_else(na),
        }
    }
}

/// Timings of one loop.
#[derive(Default)]
pub struct Loop {
    pub wall: Vec<f64>,
    pub cpu: Vec<f64>,
    /// The reference copies into RAM (in a loop, and paced like a driver's) and into video
    /// memory.
    pub reference: Vec<f64>,
    pub paced: Vec<f64>,
    pub vram: Vec<f64>,
    /// The whole loop of updates.
    pub total: f64,
}

impl Loop {
    /// Prints the `BENCH` line.
    pub fn print(mut self, name: &str, hz: Option<u32>, damaged: u64, copied: &Copied) {
        let ops = self.wall.len();
        let rate = if self.total > 0.0 {
            ops as f64 / self.total
        } else {
            0.0
        };
        let (memcpy, frac) = if self.reference.is_empty() {
            ("na".to_string(), "na".to_string())
        } else {
            let (m, c) = (median(&mut self.reference), median(&mut self.cpu.clone()));
            let frac = if c > 0.0 {
                format!("{:.4}", m / c)
            } else {
                "na".into()
            };
            (format!("{:.4}", m * 1e3), frac)
        };
        let hz = hz.map_or("na".into(), |h| h.to_string());
        let ms = |v: &mut Vec<f64>| {
            if v.is_empty() {
                "na".to_string()
            } else {
                format!("{:.4}", median(v) * 1e3)
            }
        };
        let (vram, paced) = (ms(&mut self.vram), ms(&mut self.paced));
        println!(
            "BENCH {name} ops={ops} rate={rate:.3} hz={hz} wall_ms={:.4} cpu_ms={:.4} \
             memcpy_ms={memcpy} frac={frac} paced_ms={paced} vram_ms={vram} damaged={damaged} \
             bytes={} copy_ms={} flips={} buffering={}",
            median(&mut self.wall) * 1e3,
            median(&mut self.cpu) * 1e3,
            copied.bytes,
            copied.copy_ms,
            copied.flips,
            copied.buffering,
        );
        let _ = std::io::stdout().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn counters_per_update() {
        // Today's rbochs: no flips, no buffering field.
        let old = "commits: 10\nrects: 10\nbytes: 1000\nlast_bytes: 100\ncopy_ns: 5000\n";
        let b = Counters::parse(old).unwrap();
        assert_eq!((b.flips, b.buffering.as_deref()), (None, None));
        let a = Counters::parse(
            "commits: 14\nrects: 14\nbytes: 1800\nlast_bytes: 200\ncopy_ns: 9000\n\
             buffering: double\nframe_shown: 1\nflips: 4\n",
        )
        .unwrap();
        assert_eq!((a.flips, a.buffering.as_deref()), (Some(4), Some("double")));
        let c = Copied::between(Some(b.clone()), Some(a.clone()), None);
        assert_eq!(
            (c.bytes.as_str(), c.copy_ms.as_str(), c.flips.as_str()),
            ("200", "0.0010", "na")
        );
        assert_eq!(c.buffering, "double");
        let mut b2 = b;
        b2.flips = Some(0);
        let c = Copied::between(Some(b2), Some(a), Some(2));
        assert_eq!((c.bytes.as_str(), c.flips.as_str()), ("400", "2.000"));
        assert_eq!(Copied::between(None, None, None).buffering, "na");
        assert!(Counters::parse("rects: 1\n").is_none());
    }
}
