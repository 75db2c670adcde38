// SPDX-License-Identifier: GPL-2.0
//! The markdown report: every figure with its ratios, the targets and sanity checks.

use std::fmt::Write as _;

use super::stats::Which;
use super::stats::{Sample, Samples, Stat};
use super::workload::{Plan, WORKLOADS};

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

pub fn ratio(a: Option<Stat>, b: Option<Stat>) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::fixtures::{all, sample};

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
}
