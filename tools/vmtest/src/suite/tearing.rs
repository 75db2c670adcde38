// SPDX-License-Identifier: GPL-2.0
//! Tearing: whether the device ever shows a frame the driver is writing.
//!
//! rbochs and C bochs copy each update into video memory, which QEMU reads whenever its
//! display side wants a picture. A driver that copies into the frame on screen can be seen
//! half-way: the top of the new picture over the bottom of the old one. A double-buffered
//! rbochs copies into the frame that is not shown and then moves the scanout start to it, so
//! the frame on screen is never being written.
//!
//! The guest client (`rbguest alternate`) fills the whole screen with solid red and solid
//! blue in turn, one blocking page flip after another, so every commit rewrites every pixel.
//! Meanwhile the host takes screenshots and classifies each ([`ColourCount`]): one holding
//! both colours is torn. Each screenshot is taken with the guest's CPUs stopped (QMP `stop`,
//! `screendump`, `cont`), so it is the frame on screen at one instant of the guest's
//! execution: what a reader of video memory sees if it reads at that instant. Without the
//! stop, QEMU's own read of the frame takes a few milliseconds during which the guest runs on,
//! and whether a double-buffered driver comes back to write that frame before QEMU is done
//! would depend on how the host schedules QEMU's threads; with it, "no screenshot is torn"
//! is a property of the driver alone: the frame on screen is complete at every instant.
//!
//! The suite runs the client in one boot on C bochs, rbochs with `double_buffer=0` and rbochs
//! with `double_buffer=1`, switching the device between them. Only the double-buffered run
//! is judged: it must show no torn screenshot. How often the other two tear depends on how
//! long a copy takes against the frame time under TCG: their counts are reported, and show
//! that the detector sees real tears.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::guest::{
    bound_driver, debugfs_state, parse_state, pci_name, poll, vram_size, wait_guest, with_client,
    State, RBOCHS_STATE,
};
use super::report::{check_kernel_log, Report};
use super::{Driver, C_BOCHS, RBOCHS};
use crate::image::{ColourCount, Frame, Image};
use crate::protocol::{ALTERNATING, ERROR, TEAR_A, TEAR_B};
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;

/// The mode the client alternates its colours in (the suite's preferred mode too, so that
/// the console and the client share it).
pub const MODE: (u32, u32) = (1024, 768);

/// Screenshots of the client each run must take at least.
pub const MIN_SHOTS: usize = 200;

/// The client's own time limit, a backstop: the host ends it through [`STOP`] once it has
/// its screenshots.
const CLIENT_SECS: u32 = 900;

/// The client's files in the guest.
const STOP: &str = "/tmp/alternate.stop";
const LOG: &str = "/tmp/alternate.log";
const PID: &str = "/tmp/alternate.pid";

/// Torn screenshots kept per run, for a look at what was torn.
const KEEP_TORN: usize = 3;

/// The guest runs between two screenshots for a time drawn evenly from 0 to this many
/// milliseconds, longer than a frame: the screenshots fall on many frames, at instants
/// unrelated to the client's, rather than a few frames with the guest stopped most of the
/// time.
const SPREAD_MS: u64 = 25;

/// Pauses between screenshots: a xorshift sequence from a fixed seed, so that runs are
/// alike but the pauses are not in step with the guest's frames.
struct Spread(u64);

impl Spread {
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % (SPREAD_MS * 1000))
    }
}

/// A driver, and for rbochs the buffering asked of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its name in result lines.
    pub name: &'static str,
    pub driver: &'static Driver,
    /// rbochs's `double_buffer` module parameter; `None` for C bochs, which has none.
    pub double_buffer: Option<bool>,
}

/// The three runs of the suite, in order.
pub const TARGETS: [Target; 3] = [
    Target {
        name: "cbochs",
        driver: &C_BOCHS,
        double_buffer: None,
    },
    Target {
        name: "rbochs-single",
        driver: &RBOCHS,
        double_buffer: Some(false),
    },
    Target {
        name: "rbochs-double",
        driver: &RBOCHS,
        double_buffer: Some(true),
    },
];

/// How the host reads the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// The guest's CPUs stopped around each screendump: the frame on screen at one instant.
    Paused,
    /// Screendumps while the guest runs: what a display client of QEMU sees, QEMU's own
    /// read time included.
    Live,
}

/// What one run saw.
#[derive(Clone, Debug, Default)]
pub struct TearStats {
    /// Screenshots that show the client (solid, torn or partial).
    pub shots: usize,
    /// Solid A, solid B, torn, one colour over something else, neither colour.
    pub a: usize,
    pub b: usize,
    pub torn: usize,
    pub partial: usize,
    pub other: usize,
    /// Screenshots with A in them (solid, torn or partial), and with B.
    pub a_seen: usize,
    pub b_seen: usize,
    /// Host time taking the screenshots.
    pub secs: f64,
    /// Page flips the client made, and in how long (the guest's clock).
    pub commits: u64,
    pub client_secs: f64,
    /// rbochs's debugfs state once the client runs, and after the screenshots; empty for a
    /// driver without one.
    pub state_before: State,
    pub state_after: State,
    /// Size of video memory.
    pub vram: u64,
    /// Torn screenshots kept.
    pub kept: Vec<PathBuf>,
}

impl TearStats {
    /// Counts one screenshot.
    pub fn add(&mut self, f: Frame, c: &ColourCount) {
        match f {
            Frame::A => self.a += 1,
            Frame::B => self.b += 1,
            Frame::Torn => self.torn += 1,
            Frame::Partial => self.partial += 1,
            Frame::Other => self.other += 1,
        }
        if f != Frame::Other {
            self.shots += 1;
        }
        self.a_seen += usize::from(c.a > 0);
        self.b_seen += usize::from(c.b > 0);
    }

    /// The share of screenshots that are torn.
    pub fn torn_fraction(&self) -> f64 {
        if self.shots == 0 {
            0.0
        } else {
            self.torn as f64 / self.shots as f64
        }
    }

    /// `torn 37/250 (14.8 %)`.
    pub fn torn_text(&self) -> String {
        format!(
            "torn {}/{} ({:.1} %)",
            self.torn,
            self.shots,
            100.0 * self.torn_fraction()
        )
    }

    /// Everything counted, in one line.
    pub fn summary(&self) -> String {
        let rate = |n: f64, s: f64| if s > 0.0 { n / s } else { 0.0 };
        format!(
            "{}; solid {} + {}, partial {}, neither colour {}; {} screenshots in {:.1} s \
             ({:.1}/s); {} commits in {:.1} s of guest time ({:.1}/s)",
            self.torn_text(),
            self.a,
            self.b,
            self.partial,
            self.other,
            self.shots + self.other,
            self.secs,
            rate((self.shots + self.other) as f64, self.secs),
            self.commits,
            self.client_secs,
            rate(self.commits as f64, self.client_secs)
        )
    }

    /// What rbochs's debugfs says the mode uses, `single` or `double`, while the client ran.
    pub fn buffering(&self) -> Option<&str> {
        state_str(&self.state_before, "buffering")
    }

    /// rbochs's debugfs `flips` counter before and after the screenshots.
    pub fn flips(&self) -> Option<(u64, u64)> {
        let n = |st: &State| state_str(st, "flips").and_then(|v| v.parse().ok());
        Some((n(&self.state_before)?, n(&self.state_after)?))
    }

    /// Whether two frames of [`MODE`] fit in video memory.
    pub fn fits_two_frames(&self) -> bool {
        2 * u64::from(MODE.0) * u64::from(MODE.1) * 4 <= self.vram
    }
}

fn state_str<'a>(st: &'a State, key: &str) -> Option<&'a str> {
    st.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Binds the display `dev` (a PCI name) to the target's driver, with its `double_buffer`
/// parameter for rbochs given to `modprobe` after unloading rbochs (a Rust module's parameters
/// are not in sysfs, so a built-in rbochs cannot switch: that is an error). Waits for the
/// card.
pub fn switch(vm: &mut Vm, dev: &str, t: &Target) -> Result<()> {
    let drv = t.driver;
    let cur = bound_driver(vm, dev)?;
    if cur == drv.pci_driver && t.double_buffer.is_none() {
        return wait_guest(vm, "ls /dev/dri/card* > /dev/null 2>&1");
    }
    if !cur.is_empty() {
        vm.ok(&format!("echo {dev} > /sys/bus/pci/drivers/{cur}/unbind"))?;
    }
    let m = drv.module;
    let d = drv.sysfs_dir();
    match t.double_buffer {
        None => vm.ok(&format!(
            "if [ -d {d} ]; then echo {dev} > {d}/bind; else modprobe {m}; fi"
        ))?,
        Some(on) => {
            let v = u8::from(on);
            vm.ok(&format!(
                "if [ -d /sys/module/{m} ] && [ ! -e /sys/module/{m}/initstate ]; then \
                 echo '{m} is built in and its double_buffer parameter is read-only'; false; \
                 else {{ [ ! -d /sys/module/{m} ] || rmmod {m}; }} && \
                 modprobe {m} double_buffer={v}; fi"
            ))?
        }
    };
    wait_guest(vm, "ls /dev/dri/card* > /dev/null 2>&1")?;
    let now = bound_driver(vm, dev)?;
    if now != drv.pci_driver {
        return Err(anyhow!(
            "the display is bound to {now:?}, want {}",
            drv.pci_driver
        ));
    }
    Ok(())
}

/// One screenshot into `path`, as `capture` says.
fn snapshot(vm: &mut Vm, path: &Path, capture: Capture) -> Result<()> {
    if capture == Capture::Live {
        return vm.screendump_as(path, "ppm");
    }
    vm.pause()?;
    let shot = vm.screendump_as(path, "ppm");
    let cont = vm.resume();
    shot.and(cont)
}

/// Takes screenshots while the client runs until `min_shots` of them show it; counts them
/// into `st` and keeps the first torn ones in `out`.
fn take_shots(
    vm: &mut Vm,
    name: &str,
    min_shots: usize,
    out: &Path,
    capture: Capture,
    st: &mut TearStats,
) -> Result<()> {
    let path = out.join(format!("tearing-{name}.ppm"));
    let start = Instant::now();
    // A backstop, not a verdict: about 1 screenshot per second would take this long.
    let limit = Duration::from_secs(120 + min_shots as u64);
    let mut spread = Spread(0x9e37_79b9_7f4a_7c15);
    while st.shots < min_shots {
        std::thread::sleep(spread.next());
        if st.other > min_shots {
            return Err(anyhow!(
                "{} screenshots show neither colour: the client is not on screen",
                st.other
            ));
        }
        if start.elapsed() > limit {
            return Err(anyhow!(
                "only {} screenshots of the client in {} s",
                st.shots,
                limit.as_secs()
            ));
        }
        snapshot(vm, &path, capture)?;
        let img = Image::load(&path)?;
        let c = ColourCount::of(&img, TEAR_A, TEAR_B);
        let f = c.frame();
        st.add(f, &c);
        if f == Frame::Torn && st.kept.len() < KEEP_TORN {
            let keep = out.join(format!("tearing-{name}-torn-{}.ppm", st.kept.len() + 1));
            std::fs::rename(&path, &keep).map_err(|e| anyhow!("{}: {e}", keep.display()))?;
            st.kept.push(keep);
        }
    }
    st.secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Parses the client's `ALTERNATED commits=N seconds=S driver=NAME` line.
pub fn parse_alternated(lines: &[String]) -> Result<(u64, f64, String)> {
    let line = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("ALTERNATED "))
        .ok_or_else(|| anyhow!("the client printed no ALTERNATED line:\n{}", indent(lines)))?;
    // `key=value` words, read as `key: value` pairs.
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.replacen('=', ": ", 1))
        .collect();
    let kv = parse_state(words.iter().map(String::as_str));
    let get = |k: &str| state_str(&kv, k).ok_or_else(|| anyhow!("no {k} in '{line}'"));
    let commits = get("commits")?
        .parse()
        .map_err(|_| anyhow!("bad commits in '{line}'"))?;
    let secs = get("seconds")?
        .parse()
        .map_err(|_| anyhow!("bad seconds in '{line}'"))?;
    Ok((commits, secs, get("driver")?.to_string()))
}

/// Binds `dev` to the target's driver, runs the alternating client and takes screenshots
/// until `min_shots` show it, with the guest paused around each ([`Capture::Paused`]).
/// Screenshots go to `out` (the first torn ones are kept there). For `make bench` as much as
/// for the suite: it judges nothing but whether it could measure.
pub fn measure(
    vm: &mut Vm,
    dev: &str,
    t: &Target,
    min_shots: usize,
    out: &Path,
) -> Result<TearStats> {
    measure_with(vm, dev, t, min_shots, out, Capture::Paused)
}

/// [`measure`], reading the screen as `capture` says.
pub fn measure_with(
    vm: &mut Vm,
    dev: &str,
    t: &Target,
    min_shots: usize,
    out: &Path,
    capture: Capture,
) -> Result<TearStats> {
    std::fs::create_dir_all(out).map_err(|e| anyhow!("{}: {e}", out.display()))?;
    switch(vm, dev, t)?;
    let mut st = TearStats {
        vram: vram_size(vm)?,
        ..TearStats::default()
    };
    let (w, h) = MODE;
    vm.ok(&format!(
        "rm -f {STOP}; rbguest alternate {w}x{h} {CLIENT_SECS} --stop {STOP} > {LOG} 2>&1 \
         < /dev/null & echo $! > {PID}"
    ))?;
    // Up to a minute: the client fills two frames and sets the mode, under TCG.
    let waited = poll(
        &format!("grep -q -e {ALTERNATING} -e '{ERROR}' {LOG}"),
        600,
        "0.1",
    );
    let started = vm.ok(&waited).and_then(|_| {
        let log = vm.ok(&format!("cat {LOG}"))?;
        if log.iter().any(|l| l.contains(ERROR)) {
            return Err(anyhow!("the client failed:\n{}", indent(&log)));
        }
        Ok(())
    });
    let shots = started.and_then(|()| {
        if t.driver.debugfs_counters {
            st.state_before = debugfs_state(vm, RBOCHS_STATE)?;
        }
        take_shots(vm, t.name, min_shots, out, capture, &mut st)?;
        if t.driver.debugfs_counters {
            st.state_after = debugfs_state(vm, RBOCHS_STATE)?;
        }
        Ok(())
    });
    // Whatever happened, end the client before the next switch.
    let ended = vm.ok(&format!(
        "touch {STOP}; wait $(cat {PID}); cat {LOG}; rm -f {STOP}"
    ));
    shots?;
    let (commits, secs, drm) = parse_alternated(&ended?)?;
    if drm != t.driver.drm_name {
        return Err(anyhow!(
            "the client ran on driver {drm}, want {}",
            t.driver.drm_name
        ));
    }
    st.commits = commits;
    st.client_secs = secs;
    Ok(st)
}

/// The verdicts on one run: enough screenshots with both colours in them; for rbochs, that
/// debugfs says it uses the buffering asked for (double where two frames fit), and that a
/// double-buffered run flipped and showed no torn screenshot, nor a partial one (the client
/// shows its first frame before the screenshots begin, so one colour over something else is
/// a frame shown before the driver finished it). The torn counts of C bochs and of
/// single-buffered rbochs are reported, not judged.
fn judge(rep: &mut Report, t: &Target, st: &TearStats, min_shots: usize) {
    let n = t.name;
    println!("INFO tearing {n}: {}", st.summary());
    for k in &st.kept {
        println!("INFO tearing {n}: torn screenshot kept: {}", k.display());
    }
    rep.record_note(
        &format!("{n}-shots"),
        if st.shots < min_shots {
            Err(anyhow!(
                "{} screenshots of the client, want {min_shots}",
                st.shots
            ))
        } else if st.a_seen == 0 || st.b_seen == 0 {
            Err(anyhow!(
                "one colour never showed ({} screenshots with A, {} with B): the client \
                 does not flip",
                st.a_seen,
                st.b_seen
            ))
        } else {
            Ok(st.summary())
        },
    );
    match t.double_buffer {
        Some(true) => {
            rep.record_note(
                &format!("{n}-torn"),
                if st.torn == 0 && st.partial > 0 {
                    Err(anyhow!(
                        "{} of {} screenshots show one colour over something else: the \
                         screen showed a frame the driver had not finished",
                        st.partial,
                        st.shots
                    ))
                } else if st.torn == 0 {
                    Ok(st.torn_text())
                } else {
                    Err(anyhow!(
                        "{}, want none: the frame on screen was being written{}",
                        st.torn_text(),
                        st.kept
                            .first()
                            .map(|k| format!(" (see {})", k.display()))
                            .unwrap_or_default()
                    ))
                },
            );
        }
        _ => rep.skip(
            &format!("{n}-torn"),
            &format!(
                "reported, not judged (how long a copy takes against the frame time under \
                 TCG decides it): {}",
                st.torn_text()
            ),
        ),
    }
    let Some(double) = t.double_buffer else {
        return;
    };
    rep.record_note(&format!("{n}-buffering"), check_buffering(st, double));
    if double {
        rep.record_note(
            &format!("{n}-flips"),
            match st.flips() {
                Some((a, b)) if b > a => Ok(format!("{} flips during the screenshots", b - a)),
                Some((a, b)) => Err(anyhow!(
                    "debugfs flips went from {a} to {b} while the client flipped"
                )),
                None => Err(anyhow!(
                    "debugfs state has no 'flips' counter: {:?}",
                    st.state_after
                )),
            },
        );
    }
}

/// Whether debugfs's `buffering` line says what was asked: `double` when two frames fit
/// (`single` otherwise), `single` when double buffering was turned off.
pub fn check_buffering(st: &TearStats, double: bool) -> Result<String> {
    let want = if double && st.fits_two_frames() {
        "double"
    } else {
        "single"
    };
    match st.buffering() {
        Some(b) if b == want => Ok(format!(
            "buffering: {b} ({} MiB of video memory)",
            st.vram >> 20
        )),
        Some(b) => Err(anyhow!(
            "debugfs says buffering: {b}, want {want} (double_buffer={}, {} MiB of video \
             memory, {}x{})",
            u8::from(double),
            st.vram >> 20,
            MODE.0,
            MODE.1
        )),
        // An rbochs without double buffering has no such line, and is single-buffered.
        None if !double => Ok("no buffering line in debugfs: single-buffered".into()),
        None => Err(anyhow!(
            "debugfs state has no 'buffering' line: this rbochs does not double-buffer"
        )),
    }
}

/// Shows a frame torn on purpose (top half A, bottom half B) and checks that the detector
/// calls its screenshot torn: the detector sees a tear that reached the screen.
fn check_detector(vm: &mut Vm, out: &Path) -> Result<String> {
    let (w, h) = MODE;
    let shot = out.join("tearing-halves.ppm");
    let mut seen = None;
    with_client(vm, &format!("rbguest halves {w}x{h}"), |vm, _| {
        snapshot(vm, &shot, Capture::Paused)?;
        let c = ColourCount::of(&Image::load(&shot)?, TEAR_A, TEAR_B);
        seen = Some(c);
        Ok(())
    })?;
    let c = seen.ok_or_else(|| anyhow!("no screenshot"))?;
    let half = (w * h / 2) as usize;
    if c.frame() != Frame::Torn || c.a != half || c.b != half {
        return Err(anyhow!(
            "a frame half A, half B counted as {c:?} ({:?}), want {half} of each, torn",
            c.frame()
        ));
    }
    let _ = std::fs::remove_file(&shot);
    Ok(format!("{} pixels of A and {} of B: torn", c.a, c.b))
}

/// The suite on `device` (`VGA` or `bochs-display`).
pub fn tearing_suite(cfg: &VmConfig, device: &str, rep: &mut Report) -> Result<()> {
    let name = format!("tearing-{device}");
    let (w, h) = MODE;
    let display = format!("{device},xres={w},yres={h}");
    let Some(mut vm) = super::boot_suite(cfg, &name, display, rep) else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    let dev = match pci_name(&mut vm) {
        Ok(d) => d,
        Err(e) => {
            rep.record("device", Err(e));
            return vm.shutdown();
        }
    };
    let t0 = Instant::now();
    for t in &TARGETS {
        let t1 = Instant::now();
        match measure(&mut vm, &dev, t, MIN_SHOTS, &out) {
            Ok(st) => judge(rep, t, &st, MIN_SHOTS),
            Err(e) => {
                rep.record(&format!("{}-measure", t.name), Err(e));
            }
        }
        // On the reference driver, still bound: the detector sees a tear on screen.
        if t.double_buffer.is_none() {
            rep.record_note("detector-sees-tear", check_detector(&mut vm, &out));
        }
        rep.record(&format!("{}-kernel-log", t.name), check_kernel_log(&mut vm));
        println!(
            "INFO tearing {}: {:.0} s",
            t.name,
            t1.elapsed().as_secs_f64()
        );
    }
    println!(
        "INFO tearing: {:.0} s for the three runs",
        t0.elapsed().as_secs_f64()
    );
    vm.shutdown()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(st: &mut TearStats, frames: &[(Frame, usize, usize)]) {
        for &(f, a, b) in frames {
            st.add(f, &ColourCount { a, b, other: 0 });
        }
    }

    #[test]
    fn counts_and_text() {
        let mut st = TearStats::default();
        count(
            &mut st,
            &[
                (Frame::A, 4, 0),
                (Frame::B, 0, 4),
                (Frame::Torn, 2, 2),
                (Frame::Partial, 3, 0),
                (Frame::Other, 0, 0),
            ],
        );
        // What shows neither colour is not a screenshot of the client.
        assert_eq!((st.shots, st.torn, st.other), (4, 1, 1));
        assert_eq!((st.a_seen, st.b_seen), (3, 2));
        assert_eq!(st.torn_text(), "torn 1/4 (25.0 %)");
        assert_eq!(TearStats::default().torn_text(), "torn 0/0 (0.0 %)");
    }

    fn rbochs_state(lines: &[&str]) -> State {
        parse_state(lines.iter().copied())
    }

    #[test]
    fn buffering_as_asked() {
        let mut st = TearStats {
            vram: 16 << 20,
            ..TearStats::default()
        };
        st.state_before = rbochs_state(&["buffering: double", "frame_shown: 1", "flips: 7"]);
        assert!(check_buffering(&st, true).is_ok());
        assert!(check_buffering(&st, false).is_err());
        st.state_before = rbochs_state(&["buffering: single"]);
        assert!(check_buffering(&st, false).is_ok());
        let e = check_buffering(&st, true).unwrap_err().to_string();
        assert!(
            e.starts_with("debugfs says buffering: single, want double"),
            "{e}"
        );
        // Two 1024x768 frames need 6 MiB: in 4 MiB single buffering is right.
        st.vram = 4 << 20;
        assert!(check_buffering(&st, true).is_ok());
        // Today's rbochs has no buffering line: right only when single was asked.
        st.state_before = rbochs_state(&["commits: 3"]);
        assert!(check_buffering(&st, false).is_ok());
        assert!(check_buffering(&st, true).is_err());
    }

    #[test]
    fn flips_from_debugfs() {
        let st = TearStats {
            state_before: rbochs_state(&["flips: 7"]),
            state_after: rbochs_state(&["flips: 19"]),
            ..TearStats::default()
        };
        assert_eq!(st.flips(), Some((7, 19)));
        assert_eq!(TearStats::default().flips(), None);
    }

    /// The double-buffered run fails on one torn screenshot; the others never fail on theirs.
    #[test]
    fn only_double_buffering_is_judged_on_tears() {
        let mut st = TearStats {
            vram: 16 << 20,
            state_before: rbochs_state(&["buffering: double", "flips: 1"]),
            state_after: rbochs_state(&["flips: 300"]),
            ..TearStats::default()
        };
        count(&mut st, &[(Frame::A, 1, 0), (Frame::B, 0, 1)]);
        count(&mut st, &[(Frame::Torn, 1, 1)]);
        let mut rep = Report::new("t");
        judge(&mut rep, &TARGETS[2], &st, 3);
        assert_eq!(rep.failed, 1, "{:?}", rep.lines);
        assert!(rep.lines[1].starts_with("FAIL t.rbochs-double-torn: torn 1/3 (33.3 %)"));
        // Nor may it show one colour over something else.
        let mut partial = st.clone();
        partial.torn = 0;
        partial.partial = 1;
        let mut rep = Report::new("t");
        judge(&mut rep, &TARGETS[2], &partial, 3);
        assert!(
            rep.lines[1].starts_with("FAIL t.rbochs-double-torn: 1 of 3 screenshots show one"),
            "{:?}",
            rep.lines
        );
        for t in &TARGETS[..2] {
            let mut st = st.clone();
            st.state_before = rbochs_state(&["buffering: single"]);
            let mut rep = Report::new("t");
            judge(&mut rep, t, &st, 3);
            assert_eq!(rep.failed, 0, "{:?}", rep.lines);
            assert!(
                rep.lines[1].starts_with(&format!("SKIP t.{}-torn: reported, not judged", t.name))
            );
        }
    }

    #[test]
    fn too_few_shots_or_one_colour_fail() {
        let mut st = TearStats::default();
        count(&mut st, &[(Frame::A, 1, 0), (Frame::B, 0, 1)]);
        let mut rep = Report::new("t");
        judge(&mut rep, &TARGETS[0], &st, 3);
        assert!(rep.lines[0].starts_with("FAIL t.cbochs-shots: 2 screenshots"));
        // A screen stuck on one colour is never torn, and proves nothing.
        let mut st = TearStats::default();
        count(&mut st, &[(Frame::A, 1, 0); 3]);
        let mut rep = Report::new("t");
        judge(&mut rep, &TARGETS[0], &st, 3);
        assert!(rep.lines[0].starts_with("FAIL t.cbochs-shots: one colour never showed"));
    }

    /// The pauses cover the range evenly enough: none longer than the spread, and every
    /// fifth of the range drawn.
    #[test]
    fn pauses_spread_over_a_frame_and_more() {
        let mut sp = Spread(0x9e37_79b9_7f4a_7c15);
        let mut fifths = [0; 5];
        for _ in 0..1000 {
            let d = sp.next();
            assert!(d < Duration::from_millis(SPREAD_MS));
            fifths[(d.as_micros() * 5 / u128::from(SPREAD_MS * 1000)) as usize] += 1;
        }
        assert!(fifths.iter().all(|&n| n > 150), "{fifths:?}");
    }

    #[test]
    fn client_summary_parses() -> Result<()> {
        let out = vec![
            "@@ALTERNATING".to_string(),
            "ALTERNATED commits=812 seconds=40.125 driver=rbochs".to_string(),
        ];
        assert_eq!(parse_alternated(&out)?, (812, 40.125, "rbochs".to_string()));
        assert!(parse_alternated(&out[..1]).is_err());
        Ok(())
    }
}
