// SPDX-License-Identifier: GPL-2.0
//! The samples `rbbench` prints, per driver and workload, and their medians.

use std::collections::BTreeMap;

use anyhow::anyhow;

use super::trace::Counts;
use crate::suite::{Driver, C_BOCHS, RBOCHS};
use crate::Result;

/// One run of one workload on one driver, as `rbbench` printed it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    pub ops: u64,
    pub rate: f64,
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub memcpy_ms: Option<f64>,
    /// Median memcpy time over median CPU time of an update, from the guest.
    pub frac: Option<f64>,
    /// The same memcpy timed like a driver's copy: once per frame interval, from a buffer
    /// the client has just drawn.
    pub paced_ms: Option<f64>,
    /// Refresh rate of the mode.
    pub hz: Option<f64>,
    pub damaged: u64,
    pub bytes: Option<f64>,
    /// The driver's own time copying, per update (rbochs's debugfs counter).
    pub copy_ms: Option<f64>,
    /// The same copy from userspace into video memory (through sysfs), when it fits.
    pub vram_ms: Option<f64>,
    /// Scanout flips per update (a double-buffering rbochs's debugfs counter).
    pub flips: Option<f64>,
    /// `double` or `single`, where the driver's debugfs state says.
    pub buffering: Option<String>,
    /// QEMU's CPU time per update, host-side: the vCPU threads and the rest (the display
    /// side), over the timed updates.
    pub qemu_vcpu_ms: Option<f64>,
    pub qemu_display_ms: Option<f64>,
}

impl Sample {
    /// The copy's speed as a fraction of the plain memcpy of the same bytes: memcpy time over
    /// the CPU time of an update (as the guest computed it, or else from the medians).
    pub fn memcpy_fraction(&self) -> Option<f64> {
        if self.frac.is_some() {
            return self.frac;
        }
        let m = self.memcpy_ms?;
        (self.cpu_ms > 0.0).then(|| m / self.cpu_ms)
    }

    /// The paced (like-for-like) memcpy time over the CPU time of an update.
    pub fn paced_fraction(&self) -> Option<f64> {
        let m = self.paced_ms?;
        (self.cpu_ms > 0.0).then(|| m / self.cpu_ms)
    }

    /// Whether the driver double-buffers (its debugfs state says `buffering: double`);
    /// today's rbochs, without the field, copies into the frame on screen.
    pub fn double_buffered(&self) -> bool {
        self.buffering.as_deref() == Some("double")
    }

    /// The bytes a driver may copy per update for `damaged` bytes of damage: the damage, and
    /// when double-buffered also the previous update's (the same size in these workloads).
    pub fn copy_bound(&self) -> f64 {
        let k = if self.double_buffered() { 2.0 } else { 1.0 };
        k * self.damaged as f64
    }

    /// Bytes copied over bytes damaged.
    pub fn copy_ratio(&self) -> Option<f64> {
        let b = self.bytes?;
        (self.damaged > 0).then(|| b / self.damaged as f64)
    }
}

/// Parses `BENCH name key=value ...`; `None` for other lines.
pub fn parse_line(l: &str) -> Option<Result<(String, Sample)>> {
    let rest = l.trim().strip_prefix("BENCH ")?;
    let mut words = rest.split_whitespace();
    let name = words.next()?.to_string();
    let mut s = Sample::default();
    let opt = |v: &str| -> Result<Option<f64>> {
        if v == "na" {
            return Ok(None);
        }
        v.parse::<f64>()
            .map(Some)
            .map_err(|_| anyhow!("bad number '{v}'"))
    };
    let res = (|| -> Result<_> {
        for kv in words {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("'{kv}' is not key=value"))?;
            let num = |v: &str| opt(v)?.ok_or_else(|| anyhow!("{k} is na"));
            match k {
                "ops" => s.ops = v.parse().map_err(|_| anyhow!("bad ops '{v}'"))?,
                "rate" => s.rate = num(v)?,
                "wall_ms" => s.wall_ms = num(v)?,
                "cpu_ms" => s.cpu_ms = opt(v)?.unwrap_or(0.0),
                "memcpy_ms" => s.memcpy_ms = opt(v)?,
                "frac" => s.frac = opt(v)?,
                "hz" => s.hz = opt(v)?,
                "damaged" => s.damaged = v.parse().map_err(|_| anyhow!("bad damaged '{v}'"))?,
                "bytes" => s.bytes = opt(v)?,
                "copy_ms" => s.copy_ms = opt(v)?,
                "vram_ms" => s.vram_ms = opt(v)?,
                "paced_ms" => s.paced_ms = opt(v)?,
                "flips" => s.flips = opt(v)?,
                "buffering" => s.buffering = (v != "na").then(|| v.to_string()),
                _ => {}
            }
        }
        Ok((name, s))
    })();
    Some(res.map_err(|e| anyhow!("bad bench line '{l}': {e}")))
}

/// Which driver a sample is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Which {
    R,
    C,
}

impl Which {
    pub fn driver(self) -> &'static Driver {
        match self {
            Which::R => &RBOCHS,
            Which::C => &C_BOCHS,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Which::R => "rbochs",
            Which::C => "C bochs",
        }
    }
}

/// Every sample, by driver and workload, and the register accesses per update of the traced
/// pass.
#[derive(Default)]
pub struct Samples {
    runs: BTreeMap<(Which, String), Vec<Sample>>,
    regs: BTreeMap<(Which, String), Counts>,
}

impl Samples {
    pub fn add(&mut self, d: Which, name: String, s: Sample) {
        self.runs.entry((d, name)).or_default().push(s);
    }

    pub fn get(&self, d: Which, name: &str) -> &[Sample] {
        self.runs
            .get(&(d, name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Records a workload's register accesses per update.
    pub fn add_regs(&mut self, d: Which, name: String, c: Counts) {
        self.regs.insert((d, name), c);
    }

    pub fn regs(&self, d: Which, name: &str) -> Option<&Counts> {
        self.regs.get(&(d, name.to_string()))
    }

    /// The memcpy reference timed like the driver (paced), over both drivers' runs.
    pub fn paced(&self, name: &str) -> Option<Stat> {
        self.reference(name, |s| s.paced_ms)
    }

    /// Median, minimum and maximum of `f` over a driver's runs of a workload.
    pub fn stat(&self, d: Which, name: &str, f: impl Fn(&Sample) -> Option<f64>) -> Option<Stat> {
        Stat::of(self.get(d, name).iter().filter_map(f).collect())
    }

    /// The memcpy reference of a workload over both drivers' runs.
    pub fn memcpy(&self, name: &str) -> Option<Stat> {
        self.reference(name, |s| s.memcpy_ms)
    }

    /// The copy into video memory from userspace, over both drivers' runs.
    pub fn vram(&self, name: &str) -> Option<Stat> {
        self.reference(name, |s| s.vram_ms)
    }

    fn reference(&self, name: &str, f: impl Fn(&Sample) -> Option<f64>) -> Option<Stat> {
        let v = [Which::R, Which::C]
            .iter()
            .flat_map(|&d| self.get(d, name))
            .filter_map(f)
            .collect();
        Stat::of(v)
    }
}

/// Median with the spread of the runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(mut v: Vec<f64>) -> Option<Stat> {
        v.retain(|x| x.is_finite());
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// `median (min-max)`, or just the median for one run.
    pub fn show(&self, digits: usize) -> String {
        if self.min == self.max {
            format!("{:.digits$}", self.median)
        } else {
            format!(
                "{:.digits$} ({:.digits$}–{:.digits$})",
                self.median, self.min, self.max
            )
        }
    }

    pub fn overlaps(&self, o: &Stat) -> bool {
        self.min <= o.max && o.min <= self.max
    }
}

/// Samples for the tests of the report and the plot.
#[cfg(test)]
pub mod fixtures {
    use super::*;
    use crate::bench::workload::WORKLOADS;

    pub fn sample(rate: f64, cpu: f64, memcpy: Option<f64>, bytes: Option<f64>) -> Sample {
        Sample {
            ops: 3,
            rate,
            wall_ms: 1000.0 / rate,
            cpu_ms: cpu,
            memcpy_ms: memcpy,
            frac: None,
            // Paced copies run cold: three times the loop's.
            paced_ms: memcpy.map(|m| m * 3.0),
            hz: Some(75.0),
            damaged: 16384,
            bytes,
            // rbochs (the driver with counters) spends half the update copying.
            copy_ms: bytes.map(|_| cpu / 2.0),
            vram_ms: memcpy.map(|m| m * 2.0),
            flips: bytes.map(|_| 0.0),
            buffering: bytes.map(|_| "single".into()),
            qemu_vcpu_ms: Some(cpu * 4.0),
            qemu_display_ms: Some(cpu / 4.0),
        }
    }

    pub fn all(r: Sample, c: Sample) -> Samples {
        let mut s = Samples::default();
        for wl in WORKLOADS {
            s.add(Which::R, wl.name.into(), r.clone());
            s.add(Which::C, wl.name.into(), c.clone());
            // rbochs flips one register per update, C bochs writes the mode each time.
            let regs = |w: &[(&str, f64)]| Counts {
                reads: 0.0,
                writes: w.iter().map(|x| x.1).sum(),
                written: w.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            };
            s.add_regs(Which::R, wl.name.into(), regs(&[("Y_OFFSET", 1.0)]));
            s.add_regs(
                Which::C,
                wl.name.into(),
                regs(&[("Y_OFFSET", 1.0), ("X_OFFSET", 1.0), ("VIRT_WIDTH", 1.0)]),
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines() -> Result<()> {
        let (n, s) = parse_line(
            "BENCH damage-8 ops=12 rate=55.100 wall_ms=18.1 cpu_ms=1.5 memcpy_ms=0.2000 \
             damaged=131072 bytes=na",
        )
        .ok_or_else(|| anyhow!("not a bench line"))??;
        assert_eq!(n, "damage-8");
        assert_eq!(
            (s.ops, s.damaged, s.bytes, s.copy_ms),
            (12, 131072, None, None)
        );
        assert_eq!(s.memcpy_ms, Some(0.2));
        assert!(
            (s.memcpy_fraction().ok_or_else(|| anyhow!("no fraction"))? - 0.2 / 1.5).abs() < 1e-12
        );
        let (_, r) = parse_line(
            "BENCH full-1024x768 ops=3 rate=60 wall_ms=16 cpu_ms=2 memcpy_ms=1 damaged=3145728 \
             bytes=3145728 copy_ms=1.2500",
        )
        .ok_or_else(|| anyhow!("not a bench line"))??;
        assert_eq!((r.bytes, r.copy_ms), (Some(3145728.0), Some(1.25)));
        assert_eq!((r.paced_ms, r.flips, r.buffering), (None, None, None));
        let (_, d) = parse_line(
            "BENCH damage-1 ops=3 rate=60 wall_ms=16 cpu_ms=0.5 memcpy_ms=0.003 paced_ms=0.0250 \
             damaged=16384 bytes=32768 copy_ms=0.02 flips=1.000 buffering=double",
        )
        .ok_or_else(|| anyhow!("not a bench line"))??;
        assert_eq!(
            (d.paced_ms, d.flips, d.buffering.as_deref()),
            (Some(0.025), Some(1.0), Some("double"))
        );
        assert!((d.paced_fraction().unwrap_or_default() - 0.05).abs() < 1e-12);
        // Double-buffered: this update's damage and the previous one's.
        assert_eq!((d.copy_bound(), d.copy_ratio()), (32768.0, Some(2.0)));
        let single = Sample {
            buffering: Some("single".into()),
            ..d.clone()
        };
        assert_eq!(single.copy_bound(), 16384.0);
        let (_, na) = parse_line("BENCH fbcon ops=3 rate=60 wall_ms=1 buffering=na bytes=9")
            .ok_or_else(|| anyhow!("not a bench line"))??;
        assert_eq!((na.buffering.as_deref(), na.copy_ratio()), (None, None));
        assert!(parse_line("DRIVER rbochs").is_none());
        assert!(parse_line("BENCH x rate=fast")
            .ok_or_else(|| anyhow!("not a bench line"))?
            .is_err());
        assert!(parse_line("BENCH x rate=na")
            .ok_or_else(|| anyhow!("not a bench line"))?
            .is_err());
        Ok(())
    }
}
