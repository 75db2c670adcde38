// SPDX-License-Identifier: GPL-2.0
//! `vmtest bench`: rbochs against Linux's C bochs driver and against a plain memory copy,
//! side by side in one guest boot.
//!
//! The guest boots with rbochs bound (built in). Each round runs the in-guest `rbbench` on
//! both drivers, switching between them through sysfs (unbind, then bind or `modprobe bochs`),
//! in the order rbochs, C bochs, C bochs, rbochs, ... so that slow drift on a shared machine
//! falls on both alike. Each round is one run of every workload per driver: `rbbench kms`
//! (full frames, small damage, DIRTYFB, modesets, with the RAM-to-RAM copy of the same bytes
//! measured in the same pass) and then `rbbench fbcon` with no DRM client open.
//!
//! Every figure is the median over the runs with their minimum and maximum; ratios compare
//! medians from the same boot. The report is markdown (also printed) and a PNG of the ratios.

use anyhow::anyhow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use time::macros::format_description;

use crate::cli::BenchArgs;
use crate::suite::{self, Driver, C_BOCHS, RBOCHS};
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;

/// The display device: std-VGA with a 1920x1080 preferred mode, so fbcon runs at that size.
const DEVICE: &str = "VGA,xres=1920,yres=1080";
/// Modes the workloads need from the connector.
const MODES: [(u32, u32); 3] = [(1024, 768), (1280, 1024), (1920, 1080)];
/// Where the report goes unless `--results-dir` says otherwise.
const RESULTS_DIR: &str = "bench/results";
/// The font of the plot's text (Debian: fonts-dejavu-core, installed by `make setup`).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// How long the bench runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Runs per driver (rounds).
    pub runs: u32,
    /// Updates per workload and run.
    pub frames: u32,
    /// Mode switches per run.
    pub switches: u32,
    /// Lines written to the console per fbcon run.
    pub lines: u32,
}

/// The default plan: a few minutes under TCG on 2 cores.
pub const FULL: Plan = Plan {
    runs: 7,
    frames: 60,
    switches: 20,
    lines: 1000,
};

/// The smoke plan of `make check`: every workload once, a handful of updates.
pub const SMOKE: Plan = Plan {
    runs: 1,
    frames: 3,
    switches: 2,
    lines: 100,
};

/// A workload `rbbench` runs, as the report shows it.
pub struct Workload {
    /// The name `rbbench` prints.
    pub name: &'static str,
    /// What it is, for the report.
    pub what: &'static str,
    /// Unit of its rate.
    pub unit: &'static str,
    /// Copies damage into video memory, with a memcpy reference.
    pub copy: bool,
    /// Target: the copy runs at >= 0.8x the memcpy limit.
    pub full_frame: bool,
    /// Target: bytes copied per update <= 1.05x the damaged bytes.
    pub small: bool,
}

const fn w(
    name: &'static str,
    what: &'static str,
    unit: &'static str,
    copy: bool,
    full_frame: bool,
    small: bool,
) -> Workload {
    Workload {
        name,
        what,
        unit,
        copy,
        full_frame,
        small,
    }
}

/// Every workload, in the order of the report.
pub const WORKLOADS: &[Workload] = &[
    w(
        "full-1024x768",
        "full frames 1024x768",
        "frames/s",
        true,
        true,
        false,
    ),
    w(
        "full-1920x1080",
        "full frames 1920x1080",
        "frames/s",
        true,
        true,
        false,
    ),
    w(
        "damage-1",
        "1 rect 64x64 (1080p)",
        "commits/s",
        true,
        false,
        true,
    ),
    w(
        "damage-8",
        "8 rects 64x64 (1080p)",
        "commits/s",
        true,
        false,
        true,
    ),
    w(
        "damage-64",
        "64 rects 64x64 (1080p)",
        "commits/s",
        true,
        false,
        true,
    ),
    w(
        "dirtyfb-full",
        "DIRTYFB full 1080p",
        "calls/s",
        true,
        true,
        false,
    ),
    w(
        "dirtyfb-8",
        "DIRTYFB 8 rects 64x64",
        "calls/s",
        true,
        false,
        true,
    ),
    w(
        "modeset-1024x768-1280x1024",
        "modeset 1024x768<->1280x1024",
        "modesets/s",
        false,
        false,
        false,
    ),
    w(
        "fbcon",
        "fbcon scrolling (1080p)",
        "lines/s",
        false,
        false,
        false,
    ),
];

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
    /// Refresh rate of the mode.
    pub hz: Option<f64>,
    pub damaged: u64,
    pub bytes: Option<f64>,
    /// The driver's own time copying, per update (rbochs's debugfs counter).
    pub copy_ms: Option<f64>,
    /// The same copy from userspace into video memory (through sysfs), when it fits.
    pub vram_ms: Option<f64>,
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
    fn driver(self) -> &'static Driver {
        match self {
            Which::R => &RBOCHS,
            Which::C => &C_BOCHS,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Which::R => "rbochs",
            Which::C => "C bochs",
        }
    }
}

/// Every sample, by driver and workload.
#[derive(Default)]
pub struct Samples(BTreeMap<(Which, String), Vec<Sample>>);

impl Samples {
    fn add(&mut self, d: Which, name: String, s: Sample) {
        self.0.entry((d, name)).or_default().push(s);
    }

    pub fn get(&self, d: Which, name: &str) -> &[Sample] {
        self.0
            .get(&(d, name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
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
    fn show(&self, digits: usize) -> String {
        if self.min == self.max {
            format!("{:.digits$}", self.median)
        } else {
            format!(
                "{:.digits$} ({:.digits$}–{:.digits$})",
                self.median, self.min, self.max
            )
        }
    }

    fn overlaps(&self, o: &Stat) -> bool {
        self.min <= o.max && o.min <= self.max
    }
}

/// Digits that show a value sensibly.
fn digits(v: f64) -> usize {
    match v.abs() {
        x if x >= 100.0 => 0,
        x if x >= 10.0 => 1,
        x if x >= 1.0 => 2,
        _ => 3,
    }
}

fn show(s: Option<Stat>) -> String {
    s.map_or("n/a".into(), |s| s.show(digits(s.median)))
}

fn ratio(a: Option<Stat>, b: Option<Stat>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b.median > 0.0 && a.median.is_finite()).then(|| a.median / b.median)
}

fn show_ratio(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

/// What the report's header says about where it ran.
#[derive(Clone, Debug, Default)]
pub struct Setting {
    pub date: String,
    /// The date as the report's file name: `YYYY-MM-DD-HHMM-accel`.
    pub stamp: String,
    pub kernel: String,
    pub accel: String,
    pub qemu: String,
    pub host_cpus: usize,
    pub host_cpu: String,
    pub guest: String,
    pub plan: String,
}

/// Sanity of the numbers (the smoke test): every workload ran on both drivers and gave
/// finite, positive figures; rbochs reports what it copied, C bochs has no counters. No
/// timing thresholds.
pub fn sanity(s: &Samples, plan: &Plan) -> Vec<String> {
    let mut bad = Vec::new();
    for wl in WORKLOADS {
        for d in [Which::R, Which::C] {
            let v = s.get(d, wl.name);
            let who = format!("{} {}", d.label(), wl.name);
            if v.len() != plan.runs as usize {
                bad.push(format!("{who}: {} runs, want {}", v.len(), plan.runs));
            }
            let want_ops = match wl.name {
                "fbcon" => plan.lines,
                n if n.starts_with("modeset") => plan.switches,
                _ => plan.frames,
            };
            for x in v {
                let pos = |f: f64| f.is_finite() && f > 0.0;
                if x.ops != u64::from(want_ops) {
                    bad.push(format!("{who}: {} updates timed, want {want_ops}", x.ops));
                }
                if !(pos(x.rate) && pos(x.wall_ms) && x.cpu_ms.is_finite() && x.cpu_ms >= 0.0) {
                    bad.push(format!("{who}: bad times {x:?}"));
                }
                if wl.copy && !x.memcpy_ms.is_some_and(pos) {
                    bad.push(format!("{who}: no memcpy reference {x:?}"));
                }
                if wl.copy && x.damaged == 0 {
                    bad.push(format!("{who}: no damaged bytes {x:?}"));
                }
                match (d, x.bytes) {
                    (Which::R, None) => bad.push(format!("{who}: no rbochs byte counters")),
                    (Which::R, Some(b)) if wl.copy && !pos(b) => {
                        bad.push(format!("{who}: rbochs copied {b} bytes per update"))
                    }
                    (Which::C, Some(b)) => {
                        bad.push(format!("{who}: C bochs has no counters, got {b}"))
                    }
                    _ => {}
                }
                // rbochs times its copies; a copy takes time, and no more than the update.
                match (d, x.copy_ms) {
                    (Which::R, Some(c)) if wl.copy && !(pos(c) && c <= x.cpu_ms.max(x.wall_ms)) => {
                        bad.push(format!("{who}: rbochs copy time {c} ms per update"))
                    }
                    (Which::R, None) => bad.push(format!("{who}: no rbochs copy time")),
                    (Which::C, Some(c)) => {
                        bad.push(format!("{who}: C bochs has no copy time, got {c}"))
                    }
                    _ => {}
                }
            }
        }
    }
    bad
}

/// The markdown report.
pub fn report(s: &Samples, set: &Setting, png: Option<&str>) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# rbochs benchmark: {}\n", set.date);
    let _ = writeln!(
        m,
        "| | |\n| --- | --- |\n| date | {} |\n| kernel | {} |\n| QEMU accel | {} |\n\
         | QEMU | {} |\n| host CPUs | {} ({}) |\n| guest | {} |\n| runs | {} |\n",
        set.date, set.kernel, set.accel, set.qemu, set.host_cpus, set.host_cpu, set.guest, set.plan
    );
    let _ = writeln!(
        m,
        "Both drivers ran in the same guest boot, switched through sysfs between runs \
         (rbochs, C bochs, C bochs, rbochs, ...). Each cell is the median over the runs with \
         the minimum and maximum in brackets; ratios compare the medians. Both drivers pace \
         a blocking commit with a software vblank timer at the mode's refresh rate, so a \
         client's update rate is capped at that rate (the \"Hz\" column) and wall time per \
         update includes the wait for the next vblank; CPU time per update is the time the \
         calling thread spent in the ioctl (the copy into video memory runs there), without \
         that wait. For the console, CPU time is the whole guest's per line, until the \
         display has caught up.\n"
    );

    let _ = writeln!(m, "## Throughput (what a client sees)\n");
    let _ = writeln!(
        m,
        "| workload | unit | Hz | rbochs | C bochs | rbochs/C bochs | rbochs ms/update | C bochs ms/update |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS {
        let rate = |d| s.stat(d, wl.name, |x| Some(x.rate));
        let wall = |d| s.stat(d, wl.name, |x| Some(x.wall_ms));
        let hz = s
            .stat(Which::R, wl.name, |x| x.hz)
            .map_or("–".into(), |h| format!("{:.0}", h.median));
        let _ = writeln!(
            m,
            "| {} | {} | {hz} | {} | {} | {} | {} | {} |",
            wl.what,
            wl.unit,
            show(rate(Which::R)),
            show(rate(Which::C)),
            show_ratio(ratio(rate(Which::R), rate(Which::C))),
            show(wall(Which::R)),
            show(wall(Which::C)),
        );
    }

    let _ = writeln!(m, "\n## Cost per update and the memcpy limit\n");
    let _ = writeln!(
        m,
        "CPU ms per update; \"memcpy\" is a plain copy of the same rectangles from the \
         client's buffer into RAM in the guest, timed in a loop of its own right after the \
         updates'; \"fraction of memcpy\" is the median memcpy time over the median CPU time \
         of an update, per run (1.0: the update costs no more than its bare copy). Bytes per update are rbochs's debugfs counters; C \
         bochs has none.\n"
    );
    let _ = writeln!(
        m,
        "| workload | rbochs CPU ms | C bochs CPU ms | rbochs/C bochs (speed) | memcpy ms | \
         rbochs fraction of memcpy | C bochs fraction of memcpy | damaged bytes | rbochs bytes/update | C bochs bytes/update |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS {
        let cpu = |d| s.stat(d, wl.name, |x| Some(x.cpu_ms));
        let frac = |d| s.stat(d, wl.name, Sample::memcpy_fraction);
        let damaged = s
            .get(Which::R, wl.name)
            .first()
            .or(s.get(Which::C, wl.name).first())
            .map_or("n/a".into(), |x| x.damaged.to_string());
        let bytes = s.stat(Which::R, wl.name, |x| x.bytes);
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | n/a |",
            wl.what,
            show(cpu(Which::R)),
            show(cpu(Which::C)),
            show_ratio(ratio(cpu(Which::C), cpu(Which::R))),
            if wl.copy {
                show(s.memcpy(wl.name))
            } else {
                "–".into()
            },
            show(frac(Which::R)),
            show(frac(Which::C)),
            if wl.copy || wl.name.starts_with("modeset") {
                damaged
            } else {
                "–".into()
            },
            show(bytes),
        );
    }
    if let Some(mc) = s.memcpy("full-1920x1080") {
        let _ = writeln!(
            m,
            "\nThe memcpy limit here: {:.2} GB/s (a 1920x1080 frame, {:.2} ms).",
            1920.0 * 1080.0 * 4.0 / (mc.median * 1e-3) / 1e9,
            mc.median
        );
    }

    let _ = writeln!(m, "\n## Where an rbochs update's time goes\n");
    let _ = writeln!(
        m,
        "rbochs times its own copy of the damage into video memory (debugfs `copy_ns`); the \
         rest of an update's CPU time is the ioctl and the atomic commit around the copy. \
         \"copy vs memcpy\" is the RAM-to-RAM memcpy time over the driver's copy time. \
         \"VRAM memcpy\" is the same copy made from userspace into the device's video memory \
         (the half no driver scans out, mapped through sysfs `resource0_wc`): what writing to \
         this device costs whoever writes; \"copy vs VRAM\" is its time over the driver's.\n"
    );
    let _ = writeln!(
        m,
        "| workload | CPU ms | copy ms | rest ms | copy vs memcpy | VRAM memcpy ms | copy vs VRAM |\n\
         | --- | --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS.iter().filter(|w| w.copy) {
        let cpu = s.stat(Which::R, wl.name, |x| Some(x.cpu_ms));
        let copy = s.stat(Which::R, wl.name, |x| x.copy_ms);
        let rest = s.stat(Which::R, wl.name, |x| Some(x.cpu_ms - x.copy_ms?));
        let vs = |r: Option<Stat>| match (r, copy) {
            (Some(r), Some(c)) if c.median > 0.0 => format!("{:.2}x", r.median / c.median),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} |",
            wl.what,
            show(cpu),
            show(copy),
            show(rest),
            vs(s.memcpy(wl.name)),
            show(s.vram(wl.name)),
            vs(s.vram(wl.name)),
        );
    }

    let _ = writeln!(m, "\n## Where the targets stand\n");
    for l in targets(s) {
        let _ = writeln!(m, "- {l}");
    }
    if let Some(p) = png {
        let _ = writeln!(m, "\n![ratios]({p})");
    }
    m
}

/// Whether rbochs is at least as fast as C bochs on every workload by one measure, as a
/// target line. `speed` turns a sample into "more is faster".
fn versus(s: &Samples, measure: &str, speed: fn(&Sample) -> f64) -> String {
    let mut short = Vec::new();
    let mut unknown = Vec::new();
    for wl in WORKLOADS {
        let r = s.stat(Which::R, wl.name, |x| Some(speed(x)));
        let c = s.stat(Which::C, wl.name, |x| Some(speed(x)));
        match (ratio(r, c), r, c) {
            (Some(q), Some(r), Some(c)) if q < 1.0 => {
                let noise = if r.overlaps(&c) {
                    " (the runs' ranges overlap: within the noise)"
                } else {
                    ""
                };
                short.push(format!("{} {q:.3}x{noise}", wl.what));
            }
            (Some(_), _, _) => {}
            _ => unknown.push(wl.what),
        }
    }
    let mut l = format!("rbochs >= 1.0x C bochs in {measure} on every workload: ");
    if short.is_empty() && unknown.is_empty() {
        l.push_str("**met**");
    } else {
        l.push_str("**not met**");
        if !short.is_empty() {
            let _ = write!(l, ": short on {}", short.join(", "));
        }
        if !unknown.is_empty() {
            let _ = write!(l, "; no figures for {}", unknown.join(", "));
        }
    }
    l + "."
}

/// One line per target: met or not, with the figures.
pub fn targets(s: &Samples) -> Vec<String> {
    let mut out = vec![
        versus(s, "throughput", |x| x.rate),
        versus(s, "CPU time per update", |x| {
            if x.cpu_ms > 0.0 {
                1.0 / x.cpu_ms
            } else {
                f64::NAN
            }
        }),
    ];
    // Full-frame copy >= 0.8x memcpy; and the copy alone, as the driver timed it.
    for wl in WORKLOADS.iter().filter(|w| w.full_frame) {
        let f = s.stat(Which::R, wl.name, Sample::memcpy_fraction);
        let copy = s.stat(Which::R, wl.name, |x| x.copy_ms);
        let mut alone = match (s.memcpy(wl.name), copy) {
            (Some(m), Some(c)) if c.median > 0.0 => format!(
                "; the copy alone ({:.3} ms by the driver's own timer) at {:.2}x",
                c.median,
                m.median / c.median
            ),
            _ => String::new(),
        };
        if let (Some(v), Some(c)) = (s.vram(wl.name), copy) {
            if c.median > 0.0 {
                let _ = write!(
                    alone,
                    ", and at {:.2}x of the same copy into video memory from userspace \
                     ({:.3} ms)",
                    v.median / c.median,
                    v.median
                );
            }
        }
        out.push(match f {
            Some(f) => format!(
                "{}: rbochs at {:.2}x of the memcpy limit (target >= 0.8x): **{}**{alone}.",
                wl.what,
                f.median,
                if f.median >= 0.8 { "met" } else { "not met" }
            ),
            None => format!("{}: no figures.", wl.what),
        });
    }
    // Bytes per small-damage commit <= 1.05x the damaged bytes.
    for wl in WORKLOADS.iter().filter(|w| w.small) {
        let b = s.stat(Which::R, wl.name, |x| x.bytes);
        let d = s
            .get(Which::R, wl.name)
            .first()
            .map(|x| x.damaged as f64)
            .filter(|&d| d > 0.0);
        out.push(match (b, d) {
            (Some(b), Some(d)) => {
                let q = b.max / d;
                format!(
                    "{}: rbochs copied {:.0} bytes per update for {d:.0} damaged, {q:.2}x \
                     (target <= 1.05x): **{}**.",
                    wl.what,
                    b.max,
                    if q <= 1.05 { "met" } else { "not met" }
                )
            }
            _ => format!("{}: no counters.", wl.what),
        });
    }
    out
}

/// A panel of horizontal bars: one group per row, one bar per series.
struct Panel<'a> {
    title: &'a str,
    x_desc: &'a str,
    series: &'a [(&'a str, RGBColor)],
    rows: Vec<(String, Vec<Option<f64>>)>,
    reference: f64,
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plot: {e:?}")
}

fn draw_panel(
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    p: &Panel<'_>,
) -> Result<()> {
    let n = p.rows.len().max(1);
    let top = p
        .rows
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(p.reference, |a, &b| a.max(b));
    let xmax = (top * 1.18).max(0.1);
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..xmax, 0f64..n as f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .y_labels(0)
        .x_desc(p.x_desc)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    let k = p.series.len().max(1) as f64;
    let band = 0.8 / k;
    for (j, (name, colour)) in p.series.iter().enumerate() {
        let colour = *colour;
        let bars: Vec<_> = p
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| {
                let val = (*v.get(j)?)?;
                let y1 = (n - 1 - i) as f64 + 0.9 - band * j as f64;
                Some(Rectangle::new(
                    [(0.0, y1 - band * 0.9), (val, y1)],
                    colour.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        let values: Vec<_> = p
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| {
                let val = (*v.get(j)?)?;
                let y = (n - 1 - i) as f64 + 0.9 - band * j as f64 - band * 0.45;
                Some(
                    EmptyElement::at((val, y))
                        + Text::new(
                            format!("{val:.2}"),
                            (4, 0),
                            ("sans-serif", 13)
                                .into_font()
                                .color(&BLACK)
                                .pos(Pos::new(HPos::Left, VPos::Center)),
                        ),
                )
            })
            .collect();
        chart.draw_series(values).map_err(plot_err)?;
    }
    chart
        .draw_series(LineSeries::new(
            [(p.reference, 0.0), (p.reference, n as f64)],
            RED.stroke_width(2),
        ))
        .map_err(plot_err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    // Row names left of the plot, in the root's pixel coordinates.
    for (i, (name, _)) in p.rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5));
        root.draw(&Text::new(
            name.clone(),
            (x - 8, y),
            ("sans-serif", 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(plot_err)?;
    }
    Ok(())
}

/// Draws the ratios and the fractions of memcpy into a PNG.
pub fn plot(s: &Samples, title: &str, out: &Path) -> Result<()> {
    let font = std::fs::read(FONT).map_err(|e| {
        anyhow!("{FONT}: {e} (the plot needs it: install fonts-dejavu-core, e.g. with make setup)")
    })?;
    // The plotting library keeps registered fonts for the life of the program.
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow!("{FONT}: not a usable font"))?;

    let ratios = Panel {
        title: "rbochs / C bochs, same boot (> 1: rbochs faster)",
        x_desc: "ratio of medians",
        series: &[
            ("throughput", RGBColor(0x3b, 0x6e, 0xb5)),
            ("CPU per update", RGBColor(0xe0, 0x8a, 0x2c)),
        ],
        rows: WORKLOADS
            .iter()
            .map(|wl| {
                let st = |d, f: fn(&Sample) -> f64| s.stat(d, wl.name, |x| Some(f(x)));
                let rate = ratio(st(Which::R, |x| x.rate), st(Which::C, |x| x.rate));
                let cpu = ratio(st(Which::C, |x| x.cpu_ms), st(Which::R, |x| x.cpu_ms));
                (wl.what.to_string(), vec![rate, cpu])
            })
            .collect(),
        reference: 1.0,
    };
    let fractions = Panel {
        title: "Fraction of the memcpy limit (memcpy time / CPU time per update)",
        x_desc: "fraction of memcpy (target for full frames: 0.8)",
        series: &[
            ("rbochs", RGBColor(0x2e, 0x8b, 0x57)),
            ("C bochs", RGBColor(0x99, 0x99, 0x99)),
        ],
        rows: WORKLOADS
            .iter()
            .filter(|wl| wl.copy)
            .map(|wl| {
                let f = |d| {
                    s.stat(d, wl.name, Sample::memcpy_fraction)
                        .map(|x| x.median)
                };
                (wl.what.to_string(), vec![f(Which::R), f(Which::C)])
            })
            .collect(),
        reference: 0.8,
    };

    let (w, h) = (1200u32, 1100u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root_t = root.titled(title, ("sans-serif", 18)).map_err(plot_err)?;
        let (a, b) = root_t.split_vertically(h * 56 / 100);
        draw_panel(&root, &a, &ratios)?;
        draw_panel(&root, &b, &fractions)?;
        root.present().map_err(plot_err)?;
    }
    let f = std::fs::File::create(out).map_err(|e| anyhow!("{}: {e}", out.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&buf))
        .map_err(|e| anyhow!("{}: {e}", out.display()))
}

/// The time now as `YYYY-MM-DD HH:MM UTC` and as a file-name stamp.
fn now() -> (String, String) {
    stamps(time::OffsetDateTime::now_utc())
}

/// [`now`] for the time `t`.
fn stamps(t: time::OffsetDateTime) -> (String, String) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let long = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let short = format_description!("[year]-[month]-[day]-[hour][minute]");
    (
        t.format(long).unwrap_or_default(),
        t.format(short).unwrap_or_default(),
    )
}

/// The host's CPU model, from /proc/cpuinfo.
fn host_cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown model".into())
}

/// Binds the display to `to`, whatever holds it now; waits for the card and fbcon.
fn switch(vm: &mut Vm, dev: &str, to: &Driver) -> Result<()> {
    let cur = vm.ok(&format!(
        "basename \"$(readlink /sys/bus/pci/devices/{dev}/driver)\" 2>/dev/null; true"
    ))?;
    let cur = cur
        .first()
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if cur != to.pci_driver {
        if !cur.is_empty() && cur != "." {
            vm.ok(&format!("echo {dev} > /sys/bus/pci/drivers/{cur}/unbind"))?;
        }
        let d = format!("/sys/bus/pci/drivers/{}", to.pci_driver);
        vm.ok(&format!(
            "if [ -d {d} ]; then echo {dev} > {d}/bind; else modprobe {}; fi",
            to.module
        ))?;
    }
    suite::wait_guest(vm, "ls /dev/dri/card* > /dev/null 2>&1")?;
    suite::wait_guest(vm, suite::FBCON_BOUND)?;
    let now = vm.ok(&format!(
        "basename \"$(readlink /sys/bus/pci/devices/{dev}/driver)\""
    ))?;
    if now.first().map(|s| s.trim()) != Some(to.pci_driver) {
        return Err(anyhow!(
            "the display is bound to {:?}, want {}",
            now.first(),
            to.pci_driver
        ));
    }
    Ok(())
}

/// Runs one `rbbench` command and collects its `BENCH` lines; checks that it ran on the
/// driver named `want_driver` (its `DRIVER` line).
fn run_bench(
    vm: &mut Vm,
    cmd: &str,
    want_driver: &str,
    timeout: Duration,
) -> Result<Vec<(String, Sample)>> {
    let (rc, out) = vm.run(cmd, timeout)?;
    if rc != 0 {
        return Err(anyhow!("'{cmd}' exited {rc}:\n{}", indent(&out)));
    }
    let drv = out
        .iter()
        .find_map(|l| l.trim().strip_prefix("DRIVER "))
        .map(str::to_string);
    if drv.as_deref() != Some(want_driver) {
        return Err(anyhow!(
            "'{cmd}' ran on driver {drv:?}, want {want_driver}:\n{}",
            indent(&out)
        ));
    }
    out.iter().filter_map(|l| parse_line(l)).collect()
}

/// Boots the guest, runs every round and collects the samples and the setting.
fn measure(cfg: &VmConfig, plan: &Plan) -> Result<(Samples, Setting)> {
    let mut vm = Vm::boot(cfg, Duration::from_secs(240))?;
    if vm
        .run("command -v rbbench > /dev/null", Duration::from_secs(60))?
        .0
        != 0
    {
        return Err(anyhow!(
            "rbbench is not in the initramfs: rebuild it (make initramfs-arm64-run)"
        ));
    }
    let dev = suite::pci_name(&mut vm)?;
    let info = suite::parse_info(&vm.ok("rbguest info")?)?;
    if let Some(m) = MODES.iter().find(|m| !info.modes.contains(m)) {
        return Err(anyhow!(
            "the connector has no {}x{} mode; modes: {:?}",
            m.0,
            m.1,
            info.modes
        ));
    }
    let kernel = vm.ok("uname -r; uname -v")?.join(" ");
    let kvm = vm.qmp_execute("query-kvm", serde_json::json!({}))?;
    let accel = if kvm.get("enabled").and_then(|v| v.as_bool()) == Some(true) {
        "KVM"
    } else {
        "TCG"
    };
    let ver = vm.qmp_execute("query-version", serde_json::json!({}))?;
    let q = &ver["qemu"];
    let qemu = format!("{} {}.{}.{}", cfg.qemu, q["major"], q["minor"], q["micro"]);
    // As vm.rs starts it.
    let guest = if cfg.arch == "x86_64" {
        format!("q35, 2 vCPUs, 1 GiB; -device {}", cfg.display)
    } else {
        format!("virt, cortex-a57, 2 vCPUs, 1 GiB; -device {}", cfg.display)
    };
    let (date, stamp) = now();
    let set = Setting {
        date,
        stamp: format!("{stamp}-{}", accel.to_lowercase()),
        kernel: format!("{kernel} ({})", cfg.kernel.display()),
        accel: accel.into(),
        qemu,
        host_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        host_cpu: host_cpu(),
        guest,
        plan: format!(
            "{} per driver; {} updates per workload and run, {} modesets, {} console lines",
            plan.runs, plan.frames, plan.switches, plan.lines
        ),
    };

    let mut samples = Samples::default();
    let kms_timeout = Duration::from_secs(180 + 40 * u64::from(plan.frames + plan.switches));
    let fbcon_timeout = Duration::from_secs(120 + u64::from(plan.lines));
    for round in 0..plan.runs {
        let order = if round % 2 == 0 {
            [Which::R, Which::C]
        } else {
            [Which::C, Which::R]
        };
        for d in order {
            let drv = d.driver();
            switch(&mut vm, &dev, drv).map_err(|e| anyhow!("switching to {}: {e}", d.label()))?;
            println!("bench: run {} of {} on {}", round + 1, plan.runs, d.label());
            let kms = run_bench(
                &mut vm,
                &format!("rbbench kms {} {}", plan.frames, plan.switches),
                drv.drm_name,
                kms_timeout,
            )?;
            // The client is gone: the fbdev emulation takes the display back.
            suite::wait_guest(&mut vm, suite::FBCON_BOUND)?;
            let fbcon = run_bench(
                &mut vm,
                &format!("rbbench fbcon {}", plan.lines),
                drv.pci_driver,
                fbcon_timeout,
            )?;
            for (name, s) in kms.into_iter().chain(fbcon) {
                samples.add(d, name, s);
            }
        }
    }
    let bad = suite::kernel_log_problems(&mut vm)?;
    if !bad.is_empty() {
        return Err(anyhow!("kernel log reports problems:\n{}", indent(&bad)));
    }
    vm.shutdown()?;
    Ok((samples, set))
}

/// Writes the markdown report and the plot into `dir` and prints the report; returns what is
/// wrong with the numbers (see [`sanity`]) or the plot.
fn write_report(s: &Samples, set: &Setting, plan: &Plan, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let stamp = &set.stamp;
    let png_name = format!("{stamp}.png");
    let png = dir.join(&png_name);
    let title = format!(
        "rbochs vs C bochs, {} ({}, {} host CPUs)",
        set.date, set.accel, set.host_cpus
    );
    let plotted = plot(s, &title, &png);
    let md = report(s, set, plotted.is_ok().then_some(png_name.as_str()));
    let md_path = dir.join(format!("{stamp}.md"));
    std::fs::write(&md_path, &md).map_err(|e| anyhow!("{}: {e}", md_path.display()))?;
    println!("{md}");
    println!("bench: report in {}", md_path.display());
    let mut bad = sanity(s, plan);
    match plotted {
        Ok(()) => println!("bench: plot in {}", png.display()),
        Err(e) => bad.push(format!("no plot: {e}")),
    }
    Ok(bad)
}

/// `vmtest bench`: returns whether every workload gave sane numbers.
pub fn bench(a: &BenchArgs) -> Result<bool> {
    let smoke = a.smoke;
    let base = if smoke { SMOKE } else { FULL };
    let plan = Plan {
        runs: a.runs.unwrap_or(base.runs),
        frames: a.frames.unwrap_or(base.frames),
        switches: a.switches.unwrap_or(base.switches),
        lines: a.lines.unwrap_or(base.lines),
    };
    let cfg = a.vm.config(DEVICE);
    let dir = match &a.results_dir {
        Some(d) => d.clone(),
        None if smoke => cfg.workdir.clone(),
        None => PathBuf::from(RESULTS_DIR),
    };
    // The name of the one result line (`make check` runs the smoke).
    let test = if smoke { "bench.smoke" } else { "bench.run" };
    let line = match measure(&cfg, &plan).and_then(|(s, set)| write_report(&s, &set, &plan, &dir)) {
        Err(e) => format!("FAIL {test}: {e}"),
        Ok(bad) if bad.is_empty() => format!("PASS {test}"),
        Ok(bad) => format!("FAIL {test}: {}", bad.join("; ")),
    };
    let ok = line.starts_with("PASS");
    println!("{line}");
    if let Some(res) = &a.results {
        std::fs::write(res, format!("{line}\n")).map_err(|e| anyhow!("{}: {e}", res.display()))?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rate: f64, cpu: f64, memcpy: Option<f64>, bytes: Option<f64>) -> Sample {
        Sample {
            ops: 3,
            rate,
            wall_ms: 1000.0 / rate,
            cpu_ms: cpu,
            memcpy_ms: memcpy,
            frac: None,
            hz: Some(75.0),
            damaged: 16384,
            bytes,
            // rbochs (the driver with counters) spends half the update copying.
            copy_ms: bytes.map(|_| cpu / 2.0),
            vram_ms: memcpy.map(|m| m * 2.0),
        }
    }

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
        assert!(parse_line("DRIVER rbochs").is_none());
        assert!(parse_line("BENCH x rate=fast")
            .ok_or_else(|| anyhow!("not a bench line"))?
            .is_err());
        assert!(parse_line("BENCH x rate=na")
            .ok_or_else(|| anyhow!("not a bench line"))?
            .is_err());
        Ok(())
    }

    #[test]
    fn stats_and_ratios() {
        let s = Stat::of(vec![3.0, 1.0, f64::NAN, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
        assert_eq!(Stat::of(vec![]), None);
        assert_eq!(s.show(1), "2.5 (1.0–10.0)");
        let one = Stat::of(vec![4.0]).unwrap();
        assert_eq!(one.show(2), "4.00");
        assert_eq!(ratio(Some(one), Some(s)), Some(1.6));
        assert_eq!(ratio(Some(one), None), None);
    }

    #[test]
    fn report_stamps() {
        let t = time::macros::datetime!(2000-02-29 07:05 UTC);
        assert_eq!(
            stamps(t),
            ("2000-02-29 07:05 UTC".into(), "2000-02-29-0705".into())
        );
    }

    fn all(r: Sample, c: Sample) -> Samples {
        let mut s = Samples::default();
        for wl in WORKLOADS {
            s.add(Which::R, wl.name.into(), r.clone());
            s.add(Which::C, wl.name.into(), c.clone());
        }
        s
    }

    #[test]
    fn sanity_and_targets() {
        let plan = Plan {
            runs: 1,
            frames: 3,
            switches: 3,
            lines: 3,
        };
        let good = all(
            sample(60.0, 1.0, Some(0.9), Some(16384.0)),
            sample(50.0, 2.0, Some(0.9), None),
        );
        assert_eq!(sanity(&good, &plan), Vec::<String>::new());
        let t = targets(&good);
        assert!(t[0].contains("**met**"), "{t:?}");
        assert!(t.iter().all(|l| !l.contains("not met")), "{t:?}");

        let bad = all(
            sample(50.0, 1.0, Some(0.5), Some(20000.0)),
            sample(60.0, 2.0, Some(0.9), Some(1.0)),
        );
        let b = sanity(&bad, &plan);
        assert!(
            b.iter().any(|l| l.contains("C bochs has no counters")),
            "{b:?}"
        );
        let t = targets(&bad);
        assert!(
            t[0].contains("not met") && t[0].contains("short on"),
            "{t:?}"
        );
        assert!(
            t.iter().any(|l| l.contains("0.50x of the memcpy limit")),
            "{t:?}"
        );
        assert!(t.iter().any(|l| l.contains("1.22x")), "{t:?}");
        // The copy alone: 0.5 ms of the 1.0 ms update.
        assert!(
            t.iter().any(|l| l.contains("copy alone (0.500 ms")),
            "{t:?}"
        );
        // The VRAM reference, twice each memcpy: the median of 1.0 and 1.8 ms, against the
        // 0.5 ms copy.
        assert!(
            t.iter().any(|l| l
                .contains("2.80x of the same copy into video memory from userspace (1.400 ms)")),
            "{t:?}"
        );

        let empty = Samples::default();
        assert!(!sanity(&empty, &plan).is_empty());
        let md = report(&empty, &Setting::default(), None);
        assert!(md.contains("n/a"));
    }

    #[test]
    fn plot_writes_a_png() -> Result<()> {
        if !Path::new(FONT).exists() {
            eprintln!("{FONT} missing: plot not tested");
            return Ok(());
        }
        let s = all(
            sample(60.0, 1.0, Some(0.9), Some(16384.0)),
            sample(50.0, 2.0, Some(0.9), None),
        );
        let dir = std::env::temp_dir().join(format!("vmtest-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let p = dir.join("plot.png");
        plot(&s, "test", &p)?;
        let img = crate::image::Image::load(&p)?;
        assert_eq!((img.width, img.height), (1200, 1100));
        assert!(img.colours() > 4);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
