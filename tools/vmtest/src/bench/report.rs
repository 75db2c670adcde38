// SPDX-License-Identifier: GPL-2.0
//! The markdown report: every figure with its ratios, the targets and sanity checks.

use std::fmt::Write as _;

use super::stats::Which;
use super::stats::{Sample, Samples, Stat};
use super::trace::trim;
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
    /// Who watched the display meanwhile (the VNC viewer).
    pub viewer: String,
}

/// One driver's line of the tearing test: screenshots taken while the guest alternated two
/// full-screen colours, and how many held both.
#[derive(Clone, Debug, PartialEq)]
pub struct Torn {
    /// `C bochs`, `rbochs single-buffered`, `rbochs double-buffered`.
    pub driver: String,
    pub screenshots: u32,
    pub torn: u32,
}

/// The tearing test's figures for the report (from `suite::tearing::measure`), when the
/// bench ran it; `None` leaves the section saying it was not measured.
pub type Tearing = Option<Vec<Torn>>;

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
                if wl.copy && !x.paced_ms.is_some_and(pos) {
                    bad.push(format!("{who}: no paced memcpy reference {x:?}"));
                }
                // QEMU's CPU time, read host-side around the timed loop.
                let host = [x.qemu_vcpu_ms, x.qemu_display_ms];
                if !host
                    .iter()
                    .all(|v| v.is_some_and(|v| v.is_finite() && v >= 0.0))
                {
                    bad.push(format!("{who}: no QEMU CPU time {host:?}"));
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
            // The traced pass counted the workload; a modeset writes the mode registers,
            // whatever the driver, so none there means the tracing saw nothing.
            match s.regs(d, wl.name) {
                None => bad.push(format!("{who}: no register counts from the traced pass")),
                Some(c) if wl.name.starts_with("modeset") && c.writes <= 0.0 => {
                    bad.push(format!("{who}: no register writes traced in a modeset"))
                }
                _ => {}
            }
        }
    }
    bad
}

/// The rbochs column of the bytes table: what a run copied against its bound, flagged where
/// it copied more (the worst run counts).
pub fn copy_check(v: &[Sample]) -> (String, String, bool) {
    let Some(r) = Stat::of(v.iter().filter_map(Sample::copy_ratio).collect()) else {
        return ("n/a".into(), "n/a".into(), false);
    };
    let k = if v.iter().any(Sample::double_buffered) {
        2
    } else {
        1
    };
    let over = v
        .iter()
        .any(|x| x.bytes.is_some_and(|b| b > x.copy_bound() * (1.0 + 1e-6)));
    let flag = if over {
        format!("**exceeds {k}x**")
    } else {
        format!("<= {k}x")
    };
    (format!("{}x", r.show(2)), flag, over)
}

/// The markdown report; `tearing` is the tearing test's section.
pub fn report(s: &Samples, set: &Setting, png: Option<&str>, tearing: &Tearing) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# rbochs benchmark: {}\n", set.date);
    let _ = writeln!(
        m,
        "| | |\n| --- | --- |\n| date | {} |\n| kernel | {} |\n| QEMU accel | {} |\n\
         | QEMU | {} |\n| host CPUs | {} ({}) |\n| guest | {} |\n| runs | {} |\n\
         | display viewer | {} |\n",
        set.date,
        set.kernel,
        set.accel,
        set.qemu,
        set.host_cpus,
        set.host_cpu,
        set.guest,
        set.plan,
        set.viewer
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
        "CPU ms per update. Two references copy the same rectangles from the client's buffer \
         into the same RAM in the guest, right after the updates: \"loop memcpy\" back to \
         back (warm caches and TLB), and \"paced memcpy\" the way a driver copies, once per \
         frame interval of the mode with the client drawing the source just before each copy \
         (like for like). A \"fraction\" is the reference's median time over the median CPU \
         time of an update, per run (1.0: the update costs no more than its bare copy). \
         **The 0.8x target uses the paced reference**: it copies as often, from as freshly \
         drawn a buffer and into as cold a destination as the driver does, so the ratio \
         measures the driver rather than the cache.\n"
    );
    let _ = writeln!(
        m,
        "| workload | rbochs CPU ms | C bochs CPU ms | rbochs/C bochs (speed) | loop memcpy ms | \
         paced memcpy ms | rbochs fraction of paced | C bochs fraction of paced | \
         rbochs fraction of loop | C bochs fraction of loop |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS {
        let cpu = |d| s.stat(d, wl.name, |x| Some(x.cpu_ms));
        let frac = |d| s.stat(d, wl.name, Sample::memcpy_fraction);
        let paced = |d| s.stat(d, wl.name, Sample::paced_fraction);
        let copy_only = |v: Option<Stat>| if wl.copy { show(v) } else { "–".into() };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            wl.what,
            show(cpu(Which::R)),
            show(cpu(Which::C)),
            show_ratio(ratio(cpu(Which::C), cpu(Which::R))),
            copy_only(s.memcpy(wl.name)),
            copy_only(s.paced(wl.name)),
            copy_only(paced(Which::R)),
            copy_only(paced(Which::C)),
            copy_only(frac(Which::R)),
            copy_only(frac(Which::C)),
        );
    }
    for (what, r) in [
        ("loop", s.memcpy("full-1920x1080")),
        ("paced", s.paced("full-1920x1080")),
    ] {
        if let Some(mc) = r {
            let _ = writeln!(
                m,
                "\nThe {what} memcpy limit here: {:.2} GB/s (a 1920x1080 frame, {:.2} ms).",
                1920.0 * 1080.0 * 4.0 / (mc.median * 1e-3) / 1e9,
                mc.median
            );
        }
    }

    let _ = writeln!(m, "\n## Bytes copied against the damage\n");
    let _ = writeln!(
        m,
        "Bytes the client damaged per update, and the bytes rbochs copied per update (its \
         debugfs `bytes` over `commits`; C bochs has no counters: n/a). A single-buffered \
         driver need copy no more than the damage (1x); a double-buffered one draws into the \
         frame not shown, which is one update old, so it copies this update's damage plus the \
         previous one's (at most 2x here, where every update damages the same amount; for \
         full frames and these fixed rectangles the two are the same area, so a driver that \
         merges them copies 1x). The \
         ratio is the median over the runs (range in brackets); the check uses the worst run. \
         Flips per update are rbochs's debugfs `flips` (n/a before double buffering).\n"
    );
    let _ = writeln!(
        m,
        "| workload | damaged bytes/update | rbochs buffering | rbochs bytes/update | \
         rbochs copied/damaged | rbochs bound | rbochs flips/update | C bochs bytes/update |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS
        .iter()
        .filter(|w| w.copy || w.name.starts_with("modeset"))
    {
        let rs = s.get(Which::R, wl.name);
        let damaged = rs
            .first()
            .or(s.get(Which::C, wl.name).first())
            .map_or("n/a".into(), |x| x.damaged.to_string());
        let buffering = rs
            .iter()
            .find_map(|x| x.buffering.clone())
            .unwrap_or_else(|| "single (no field)".into());
        let (r, flag, _) = copy_check(rs);
        let _ = writeln!(
            m,
            "| {} | {damaged} | {buffering} | {} | {r} | {flag} | {} | n/a |",
            wl.what,
            show(s.stat(Which::R, wl.name, |x| x.bytes)),
            show(s.stat(Which::R, wl.name, |x| x.flips)),
        );
    }

    let _ = writeln!(m, "\n## QEMU's own CPU time per update (host side)\n");
    let _ = writeln!(
        m,
        "Read from the QEMU process (`/proc/PID/task/*/schedstat`) at the edges of each timed \
         loop, with the guest standing still, over the loop's updates. \"Display side\" is \
         every QEMU thread but the vCPUs (main loop, VNC worker, RCU): what redrawing the \
         display surface from video memory and serving the viewer costs the host. A moved \
         scanout start makes QEMU replace its surface and redraw all of it, so this is where \
         flipping costs. \"vCPU\" is the vCPU threads (`CPU n/TCG`): under TCG the guest's \
         own work, the copies included, and the MMIO exits. The display side only works while \
         a viewer watches: see the header. The viewer runs through every timed run, on the \
         same host CPUs as the guest (a user's would too): compare timings with reports made \
         without one (`--no-viewer`, or before it existed) with care.\n"
    );
    let _ = writeln!(
        m,
        "| workload | rbochs display side ms | C bochs display side ms | rbochs/C bochs | \
         rbochs vCPU ms | C bochs vCPU ms |\n| --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS {
        let disp = |d| s.stat(d, wl.name, |x| x.qemu_display_ms);
        let vcpu = |d| s.stat(d, wl.name, |x| x.qemu_vcpu_ms);
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            wl.what,
            show(disp(Which::R)),
            show(disp(Which::C)),
            show_ratio(ratio(disp(Which::R), disp(Which::C))),
            show(vcpu(Which::R)),
            show(vcpu(Which::C)),
        );
    }

    let _ = writeln!(m, "\n## Device register accesses per update\n");
    let _ = writeln!(
        m,
        "Counted host-side from QEMU's trace events `memory_region_ops_read` and \
         `memory_region_ops_write` on the display device's register regions (DISPI, QEMU's \
         extended registers, VGA, EDID), switched on over QMP around the timed loops of one \
         short extra pass per driver (tracing slows QEMU: that pass is not timed). Under KVM \
         each access is an exit to QEMU costing microseconds. Writes by register, per update.\n"
    );
    let _ = writeln!(
        m,
        "| workload | rbochs writes | rbochs reads | rbochs writes by register | C bochs writes | \
         C bochs reads | C bochs writes by register |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for wl in WORKLOADS {
        let cells = |d| match s.regs(d, wl.name) {
            Some(c) => (trim(c.writes), trim(c.reads), c.show_written()),
            None => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        let (rw, rr, rby) = cells(Which::R);
        let (cw, cr, cby) = cells(Which::C);
        let _ = writeln!(
            m,
            "| {} | {rw} | {rr} | {rby} | {cw} | {cr} | {cby} |",
            wl.what
        );
    }

    let _ = writeln!(m, "\n## Tearing\n");
    match tearing {
        Some(rows) => {
            let _ = writeln!(
                m,
                "The guest alternated two full-screen colours with blocking commits while the \
                 host took QMP screendumps; a screenshot holding both colours is torn.\n\n\
                 | driver | screenshots | torn | torn fraction |\n| --- | --- | --- | --- |"
            );
            for t in rows {
                let f = if t.screenshots > 0 {
                    format!("{:.3}", f64::from(t.torn) / f64::from(t.screenshots))
                } else {
                    "n/a".into()
                };
                let _ = writeln!(m, "| {} | {} | {} | {f} |", t.driver, t.screenshots, t.torn);
            }
        }
        None => {
            let _ = writeln!(m, "Not measured in this run.");
        }
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
    // Full-frame copy >= 0.8x the paced (like-for-like) memcpy; the loop reference for
    // comparison; and the copy alone, as the driver timed it.
    for wl in WORKLOADS.iter().filter(|w| w.full_frame) {
        let f = s.stat(Which::R, wl.name, Sample::paced_fraction);
        let lf = s.stat(Which::R, wl.name, Sample::memcpy_fraction);
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
        let lf = lf.map_or(String::new(), |l| {
            format!(" (of the loop memcpy: {:.2}x)", l.median)
        });
        out.push(match f {
            Some(f) => format!(
                "{}: rbochs at {:.2}x of the paced memcpy limit{lf} (target >= 0.8x of the \
                 paced one): **{}**{alone}.",
                wl.what,
                f.median,
                if f.median >= 0.8 { "met" } else { "not met" }
            ),
            None => format!("{}: no figures.", wl.what),
        });
    }
    // Bytes per small-damage commit <= 1.05x the damaged bytes (single-buffered), or <= 2x
    // (double-buffered: this commit's damage plus the previous one's).
    for wl in WORKLOADS.iter().filter(|w| w.small) {
        let rs = s.get(Which::R, wl.name);
        let b = s.stat(Which::R, wl.name, |x| x.bytes);
        let d = rs.first().map(|x| x.damaged as f64).filter(|&d| d > 0.0);
        let (limit, how) = if rs.iter().any(Sample::double_buffered) {
            (2.0, "2x, double-buffered")
        } else {
            (1.05, "1.05x")
        };
        out.push(match (b, d) {
            (Some(b), Some(d)) => {
                let q = b.max / d;
                format!(
                    "{}: rbochs copied {:.0} bytes per update for {d:.0} damaged, {q:.2}x \
                     (target <= {how}): **{}**.",
                    wl.what,
                    b.max,
                    if q <= limit { "met" } else { "not met" }
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
            shots: 3,
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
            // The paced reference (three times the loop's here) sets the target.
            t.iter()
                .any(|l| l.contains("1.50x of the paced memcpy limit (of the loop memcpy: 0.50x)")),
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
        let md = report(&empty, &Setting::default(), None, &None);
        assert!(md.contains("n/a") && md.contains("Not measured in this run."));
    }

    #[test]
    fn copied_bytes_against_the_bound() {
        let s = |bytes: f64, buffering: Option<&str>| Sample {
            bytes: Some(bytes),
            buffering: buffering.map(str::to_string),
            ..sample(60.0, 1.0, Some(0.1), Some(bytes))
        };
        // Single-buffered (or today's driver, without the field): the damage is the bound.
        let (r, flag, over) = copy_check(&[s(16384.0, None), s(16384.0, Some("single"))]);
        assert_eq!((r.as_str(), flag.as_str(), over), ("1.00x", "<= 1x", false));
        let (r, flag, over) = copy_check(&[s(16384.0, None), s(20000.0, None)]);
        assert_eq!(
            (r.as_str(), flag.as_str(), over),
            ("1.11 (1.00–1.22)x", "**exceeds 1x**", true)
        );
        // Double-buffered: this update's damage and the previous one's.
        let (r, flag, over) = copy_check(&[s(32768.0, Some("double"))]);
        assert_eq!((r.as_str(), flag.as_str(), over), ("2.00x", "<= 2x", false));
        let (_, flag, over) = copy_check(&[s(32769.0, Some("double"))]);
        assert_eq!((flag.as_str(), over), ("**exceeds 2x**", true));
        assert_eq!(copy_check(&[]).0, "n/a");
        // The target follows the buffering.
        let mut dbl = all(
            s(32768.0, Some("double")),
            sample(60.0, 2.0, Some(0.1), None),
        );
        let t = targets(&dbl);
        assert!(
            t.iter()
                .any(|l| l.contains("2.00x (target <= 2x, double-buffered): **met**")),
            "{t:?}"
        );
        dbl.add(Which::R, "damage-1".into(), s(40000.0, Some("double")));
        assert!(
            targets(&dbl)
                .iter()
                .any(|l| l.starts_with("1 rect") && l.contains("**not met**")),
            "{t:?}"
        );
    }

    #[test]
    fn report_sections() {
        let s = all(
            sample(60.0, 1.0, Some(0.5), Some(20000.0)),
            sample(60.0, 2.0, Some(0.5), None),
        );
        let tearing = Some(vec![
            Torn {
                driver: "C bochs".into(),
                screenshots: 200,
                torn: 50,
            },
            Torn {
                driver: "rbochs double-buffered".into(),
                screenshots: 0,
                torn: 0,
            },
        ]);
        let md = report(&s, &Setting::default(), None, &tearing);
        let row = |start: &str| {
            md.lines()
                .find(|l| l.starts_with(start))
                .unwrap_or_default()
                .to_string()
        };
        // Bytes: 20000 copied for 16384 damaged, single-buffered.
        assert_eq!(
            row("| 1 rect 64x64 (1080p) | 16384 |"),
            "| 1 rect 64x64 (1080p) | 16384 | single | 20000 | 1.22x | **exceeds 1x** | 0.000 | \
             n/a |"
        );
        // QEMU's CPU: display side cpu/4, vCPU cpu*4.
        assert_eq!(
            row("| full frames 1920x1080 | 0.250 |"),
            "| full frames 1920x1080 | 0.250 | 0.500 | 0.50x | 4.00 | 8.00 |"
        );
        // Registers: one flip for rbochs, three writes for C bochs.
        assert_eq!(
            row("| DIRTYFB 8 rects 64x64 | 1 |"),
            "| DIRTYFB 8 rects 64x64 | 1 | 0 | Y_OFFSET 1 | 3 | 0 | VIRT_WIDTH 1, X_OFFSET 1, \
             Y_OFFSET 1 |"
        );
        // Both references: loop 0.5 ms, paced 1.5 ms, over 1 and 2 ms of CPU.
        assert_eq!(
            row("| full frames 1024x768 | 1.00 |"),
            "| full frames 1024x768 | 1.00 | 2.00 | 2.00x | 0.500 | 1.50 | 1.50 | 0.750 | 0.500 \
             | 0.250 |"
        );
        assert!(md.contains("**The 0.8x target uses the paced reference**"));
        assert_eq!(row("| C bochs |"), "| C bochs | 200 | 50 | 0.250 |");
        assert_eq!(
            row("| rbochs double-buffered |"),
            "| rbochs double-buffered | 0 | 0 | n/a |"
        );
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
