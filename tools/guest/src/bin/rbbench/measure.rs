// SPDX-License-Identifier: GPL-2.0
//! Timing an update loop and what the driver says it copied.

use std::io::Write;

use rbguest::{driver_state, state_value};
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

/// The driver's total copy counters, when it has them.
#[derive(Clone, Copy)]
pub struct Counters {
    pub commits: u64,
    pub bytes: u64,
    /// Time spent copying, in nanoseconds (rbochs only).
    pub copy_ns: Option<u64>,
}

pub fn counters(has: bool) -> Option<Counters> {
    if !has {
        return None;
    }
    let st = driver_state()?;
    let get = |key: &str| state_value(&st, key);
    Some(Counters {
        commits: get("commits")?,
        bytes: get("bytes")?,
        copy_ns: get("copy_ns"),
    })
}

/// What the driver copied per update between two counter readings, for the `BENCH` line:
/// `bytes=` and `copy_ms=` (the driver's own time in the copy).
pub struct Copied {
    pub bytes: String,
    pub copy_ms: String,
}

impl Copied {
    /// Per update, over `ops` updates (`None`: per commit the driver counted).
    pub fn between(before: Option<Counters>, after: Option<Counters>, ops: Option<u64>) -> Self {
        let na = || "na".to_string();
        let (Some(b), Some(a)) = (before, after) else {
            return Self {
                bytes: na(),
                copy_ms: na(),
            };
        };
        let n = ops.unwrap_or(a.commits.saturating_sub(b.commits));
        if n == 0 {
            return Self {
                bytes: na(),
                copy_ms: na(),
            };
        }
        let n = n as f64;
        Self {
            bytes: format!("{:.0}", (a.bytes - b.bytes) as f64 / n),
            copy_ms: match (b.copy_ns, a.copy_ns) {
                (Some(t0), Some(t1)) => format!("{:.4}", (t1 - t0) as f64 / n / 1e6),
                _ => na(),
            },
        }
    }
}

/// Timings of one loop.
#[derive(Default)]
pub struct Loop {
    pub wall: Vec<f64>,
    pub cpu: Vec<f64>,
    /// The reference copies into RAM and into video memory.
    pub reference: Vec<f64>,
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
        let vram = if self.vram.is_empty() {
            "na".to_string()
        } else {
            format!("{:.4}", median(&mut self.vram) * 1e3)
        };
        println!(
            "BENCH {name} ops={ops} rate={rate:.3} hz={hz} wall_ms={:.4} cpu_ms={:.4} \
             memcpy_ms={memcpy} frac={frac} vram_ms={vram} damaged={damaged} bytes={} copy_ms={}",
            median(&mut self.wall) * 1e3,
            median(&mut self.cpu) * 1e3,
            copied.bytes,
            copied.copy_ms,
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
}
