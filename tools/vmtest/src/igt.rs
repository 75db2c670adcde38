// SPDX-License-Identifier: GPL-2.0
//! IGT GPU Tools on rbochs and, side by side, on Linux's C bochs driver.
//!
//! The guest's initramfs carries IGT's test programs under `/igt` (with their shared
//! libraries). For each driver the guest boots afresh, loads that one driver, and runs each
//! test with a bound on its time; IGT's own per-subtest verdicts (`Subtest NAME: SUCCESS`,
//! `SKIP`, `FAIL`, `CRASH`) are parsed from its output. A failure C bochs shares is not
//! counted as rbochs's: it is recorded as a skip, with that reason.

use anyhow::anyhow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::suite::{self, Driver, Report};
use crate::vm::{Vm, VmConfig};
use crate::Result;

/// One IGT test with the subtests chosen for it (`None`: all of them; otherwise IGT's
/// `--run-subtest` pattern, where `*,!name` means every subtest but `name`), and the least
/// time it gets (seconds at time scale 1), for tests whose subtests run for a fixed time.
pub struct IgtTest {
    pub name: &'static str,
    pub subtests: Option<&'static str>,
    pub min_secs: u64,
}

const fn t(name: &'static str, subtests: Option<&'static str>) -> IgtTest {
    IgtTest {
        name,
        subtests,
        min_secs: 0,
    }
}

impl IgtTest {
    /// The same test with at least `secs` seconds.
    const fn at_least(self, secs: u64) -> IgtTest {
        IgtTest {
            min_secs: secs,
            ..self
        }
    }
}

/// The tests that apply to a single-CRTC, single-primary-plane (XRGB8888, BGRX8888),
/// cursorless driver with a software vblank timer, run under TCG in a guest without udevd.
/// Failures both drivers share stay in the run: they are recorded as such (skips "also
/// fails on C bochs", and rows of the report); README.md, "The x86_64 guest and IGT GPU
/// Tools", says why each fails. Left out:
/// - subtests that need what neither the device nor the guest has: GPU hangs (`*-hang`),
///   suspend and resume (`*suspend*`: no wake-up source in the guest), a second CRTC
///   (`2x-*`, which IGT would skip);
/// - kms_flip's subtests beyond those below: timing under TCG (see `FLIP`), and others run
///   30 s to a few minutes each, for time;
/// - tests of hardware neither driver has, which would only skip: CRCs (kms_pipe_crc_basic,
///   kms_cursor_crc, kms_plane_alpha_blend, kms_rotation_crc, kms_fb_coherency, ...),
///   cursor and overlay planes (kms_plane_cursor, kms_cursor_edge_walk, kms_plane_multiple,
///   kms_plane_scaling), writeback, colour management, VRR, HDR, DSC, PSR and FBC, tiling
///   and compression modifiers, and the tests of other drivers (gem_*, i915_*, xe_*, ...).
pub const TESTS: &[IgtTest] = &[
    t("core_getversion", None),
    t("core_getclient", None),
    t("core_getstats", None),
    t("core_auth", None),
    t("core_setmaster", None),
    t("core_setmaster_vs_auth", None),
    t("core_debugfs", None),
    t("core_sysfs", None),
    t("drm_read", None).at_least(120),
    t("dumb_buffer", None).at_least(120),
    t("fbdev", None),
    t("prime_mmap_kms", None),
    t("kms_addfb_basic", None),
    t("kms_getfb", None),
    t("kms_rmfb", None),
    t("kms_atomic", None),
    t("kms_atomic_transition", None).at_least(300),
    t("kms_atomic_interruptible", None),
    t("kms_concurrent", None),
    t("kms_cursor_legacy", Some("*,!2x-*")),
    t("kms_properties", None),
    t("kms_prop_blob", None),
    t("kms_flip", Some(FLIP)).at_least(300),
    t("kms_flip_event_leak", None),
    t("kms_vblank", Some("*,!*-hang,!*suspend*")).at_least(300),
    t("kms_setmode", Some("basic,basic-clone-single-crtc,invalid-clone-single-crtc")),
    t("kms_universal_plane", None),
    t("kms_dirtyfb", None),
    t("kms_invalid_mode", None),
    t("kms_sequence", None),
    t("kms_plane", Some("plane-position-covered,plane-position-hole,plane-panning-top-left,plane-panning-bottom-right,pixel-format")),
    t("kms_lease", None),
    t("kms_force_connector_basic", None),
    t("kms_sysfs_edid_timing", None),
    t("kms_feature_discovery", Some("display,display-1x")),
    t("kms_debugfs", None),
    t("kms_3d", None),
    // Last: it unbinds, removes and rescans the device, and a failure may leave none.
    t("core_hotunplug", None).at_least(300),
];

/// kms_flip's subtests that run: flips and their events, flips against DPMS, modesets and
/// RMFB, and the timestamps of flip events. Left out for TCG's timing (README.md has the
/// figures): the subtests that flip and wait for a vblank in every frame
/// (basic-flip-vs-wf_vblank, flip-vs-absolute-wf_vblank, flip-vs-blocking-wf-vblank), where
/// the slow guest misses frames on both drivers; flip-vs-expired-vblank, which wants a wait
/// for a past vblank back within 500 us; busy-flip, which wants a second flip refused while
/// the first is pending, and which each driver has failed in one run and passed in another
/// (the slow guest sometimes issues the second after the first completed).
const FLIP: &str = "basic-plain-flip,basic-flip-vs-dpms,basic-flip-vs-modeset,nonexisting-fb,\
                    flip-vs-rmfb,plain-flip-ts-check";

/// IGT's verdicts, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    Skip,
    Fail,
    Crash,
    Timeout,
}

impl Verdict {
    fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "SUCCESS" => Verdict::Pass,
            "SKIP" => Verdict::Skip,
            "FAIL" => Verdict::Fail,
            "CRASH" => Verdict::Crash,
            "TIMEOUT" => Verdict::Timeout,
            _ => return None,
        })
    }

    fn from_exit(rc: i32) -> Verdict {
        // IGT's exit codes: 0 success, 77 skip, 98 failure; the guest's `timeout` exits 124,
        // or 137 once it had to kill.
        match rc {
            0 => Verdict::Pass,
            77 => Verdict::Skip,
            124 | 137 => Verdict::Timeout,
            98 => Verdict::Fail,
            _ => Verdict::Crash,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skip => "skip",
            Verdict::Fail => "fail",
            Verdict::Crash => "crash",
            Verdict::Timeout => "timeout",
        }
    }

    fn bad(self) -> bool {
        self >= Verdict::Fail
    }
}

/// Subtest (or `""` for a test without subtests) to verdict.
pub type Outcome = BTreeMap<String, Verdict>;

/// Parses one test's output: `Subtest X: VERDICT`, `Dynamic subtest Y: VERDICT` (recorded as
/// `X@Y`), a subtest started but never ended (the test was killed: a timeout), and the exit
/// status for a test without subtests.
pub fn parse_output(lines: &[String], rc: i32) -> Outcome {
    let mut out = Outcome::new();
    let mut current: Option<String> = None;
    let mut dynamic: Option<String> = None;
    for l in lines {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("Starting subtest: ") {
            current = Some(name.trim().to_string());
            dynamic = None;
        } else if let Some(name) = l.strip_prefix("Starting dynamic subtest: ") {
            dynamic = Some(name.trim().to_string());
        } else if let Some(rest) = l.strip_prefix("Dynamic subtest ") {
            if let Some((name, v)) = verdict_of(rest) {
                let parent = current.clone().unwrap_or_default();
                out.insert(format!("{parent}@{name}"), v);
                dynamic = None;
            }
        } else if let Some(rest) = l.strip_prefix("Subtest ") {
            if let Some((name, v)) = verdict_of(rest) {
                out.insert(name, v);
                current = None;
                dynamic = None;
            }
        }
    }
    let exit = Verdict::from_exit(rc);
    if let Some(cur) = current {
        // Killed or crashed in the middle of a subtest.
        let name = match dynamic {
            Some(d) => format!("{cur}@{d}"),
            None => cur,
        };
        out.insert(name, exit.max(Verdict::Crash));
    }
    if out.is_empty() {
        out.insert(String::new(), exit);
    }
    out
}

/// `NAME: VERDICT (1.234s)` into its parts.
fn verdict_of(rest: &str) -> Option<(String, Verdict)> {
    let (name, v) = rest.rsplit_once(": ")?;
    let word = v.split_whitespace().next()?;
    Some((name.trim().to_string(), Verdict::parse(word)?))
}

/// What one driver's run gave.
pub struct DriverRun {
    /// Test name to outcome.
    pub results: BTreeMap<String, Outcome>,
    /// For each test IGT skipped whole, the requirements it reported as not met.
    pub why_skipped: BTreeMap<String, Vec<String>>,
    /// The IGT version the initramfs carries (`/igt/VERSION`).
    pub version: String,
}

/// Boots the guest once for `drv` and runs every test.
pub fn run_driver(
    cfg: &VmConfig,
    drv: &Driver,
    tests: &[&IgtTest],
    per_test: Duration,
) -> Result<DriverRun> {
    let mut cfg = cfg.clone();
    cfg.workdir = cfg.workdir.join(drv.module);
    let mut vm = Vm::boot(&cfg, Duration::from_secs((300.0 * cfg.time_scale) as u64))?;
    vm.ok("test -x /igt/core_getversion || { echo 'no IGT in the initramfs (/igt)'; exit 1; }")?;
    let version = vm
        .ok("cat /igt/VERSION 2>/dev/null || echo IGT")?
        .join(" ")
        .trim()
        .to_string();
    vm.ok(&format!("modprobe {}", drv.module))?;
    suite::wait_guest(&mut vm, "test -c /dev/dri/card0")?;
    let mut res = BTreeMap::new();
    let mut why_skipped = BTreeMap::new();
    for t in tests {
        let secs = (per_test.as_secs().max(t.min_secs) as f64 * cfg.time_scale).ceil() as u64;
        let sel = match t.subtests {
            Some(s) => format!(" --run-subtest '{s}'"),
            None => String::new(),
        };
        // The full output stays in the guest; only IGT's verdict lines cross the serial line,
        // with the requirements it found not met (`Test requirement: ...` and the message on
        // the next line), and the tail of the log when the test did not succeed.
        let cmd = format!(
            "cd /igt; timeout -s KILL {secs} ./{name}{sel} >/tmp/{name}.log 2>&1; \
             rc=$?; grep -aE '^(Starting (dynamic )?subtest|(Dynamic s|S)ubtest .*: )' /tmp/{name}.log; \
             grep -a -A1 '^Test requirement: ' /tmp/{name}.log | \
             grep -avE '^(--|Last errno|Test requirement not met|Starting|Subtest|Dynamic)' | \
             sort -u | head -n 6 | sed 's/^/--- req /'; \
             case $rc in 0|77) ;; *) echo '--- tail'; tail -n 25 /tmp/{name}.log | grep -avE '^(Starting|Subtest|Dynamic)';; esac; \
             cd /; (exit $rc)",
            name = t.name
        );
        println!("igt: {} {}", drv.module, t.name);
        let (rc, out) = vm.run(&cmd, Duration::from_secs(secs + 60))?;
        let o = parse_output(&out, rc);
        for (sub, v) in &o {
            if v.bad() {
                println!("igt:   {} {}: {}", t.name, sub, v.word());
            }
        }
        if o.values().any(|v| v.bad()) {
            for l in out.iter().skip_while(|l| !l.starts_with("--- tail")) {
                println!("igt:     {l}");
            }
            // The whole log, for diagnosis, beside the console log.
            let (_, log) = vm.run(
                &format!("cat /tmp/{}.log", t.name),
                Duration::from_secs(120),
            )?;
            let path = cfg.workdir.join(format!("{}.log", t.name));
            std::fs::write(&path, log.join("\n") + "\n")
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        }
        if o.values().all(|v| *v == Verdict::Skip) {
            let req: Vec<String> = out
                .iter()
                .filter_map(|l| l.strip_prefix("--- req "))
                .map(|l| l.trim().to_string())
                .collect();
            why_skipped.insert(t.name.to_string(), req);
        }
        res.insert(t.name.to_string(), o);
    }
    let problems = suite::kernel_log_problems(&mut vm)?;
    if !problems.is_empty() {
        println!("igt: {}: kernel log:\n{}", drv.module, problems.join("\n"));
        let mut o = Outcome::new();
        o.insert(String::new(), Verdict::Fail);
        res.insert("kernel-log".to_string(), o);
    }
    vm.shutdown()?;
    Ok(DriverRun {
        results: res,
        why_skipped,
        version,
    })
}

/// Subtests rbochs passes by design where C bochs fails (README.md says why): rbochs failing
/// one is a failure even though C bochs fails it too.
pub const RBOCHS_PASSES: &[(&str, &str)] = &[
    // Modes too fast for the vblank timer, or overflowing the refresh rate: refused.
    ("kms_invalid_mode", "int-max-clock"),
    ("kms_invalid_mode", "overflow-vrefresh"),
    // An ARGB8888 framebuffer (a cursor image) before the test looks at the planes.
    ("kms_rmfb", "rmfb-ioctl"),
    ("kms_rmfb", "close-fd"),
    // The CRTC turned off with the framebuffer left on the plane.
    ("kms_atomic_transition", "modeset-transition"),
    // The CRTC lit with its only plane off (black).
    ("kms_atomic_transition", "plane-all-transition"),
    ("kms_atomic_transition", "plane-all-transition-nonblocking"),
    ("kms_atomic_transition", "plane-all-modeset-transition"),
    ("kms_atomic_transition", "plane-toggle-modeset-transition"),
    ("kms_concurrent", "multi-plane-atomic-lowres"),
];

/// The subtests of `test` that rbochs must mend: those that fail on rbochs but not on C
/// bochs, and those of [`RBOCHS_PASSES`] that rbochs does not pass; labelled with the verdict.
fn only_ours(
    ours: &BTreeMap<String, Outcome>,
    reference: &BTreeMap<String, Outcome>,
    test: &str,
) -> Vec<String> {
    let empty = Outcome::new();
    let o = ours.get(test).unwrap_or(&empty);
    let r = reference.get(test).unwrap_or(&empty);
    let mut v: Vec<String> = o
        .iter()
        .filter(|(s, v)| v.bad() && !r.get(s.as_str()).is_some_and(|v| v.bad()))
        .map(|(s, v)| label(s, *v))
        .collect();
    if !o.is_empty() {
        for (_, sub) in RBOCHS_PASSES.iter().filter(|(t, _)| *t == test) {
            match o.get(*sub) {
                Some(Verdict::Pass) => {}
                Some(w) if w.bad() && !r.get(*sub).is_some_and(|v| v.bad()) => {}
                Some(w) => v.push(format!("{sub} ({}, must pass)", w.word())),
                None => v.push(format!("{sub} (did not run, must pass)")),
            }
        }
    }
    v
}

/// One PASS/FAIL/SKIP line per test for each driver. A failing subtest of rbochs that also
/// fails on C bochs is a skip ("also fails on C bochs"); one only rbochs fails is a failure.
/// C bochs's own failures are the reference's, recorded as skips.
pub fn record(
    ours: &BTreeMap<String, Outcome>,
    reference: &BTreeMap<String, Outcome>,
    rep_ours: &mut Report,
    rep_ref: &mut Report,
) {
    for (test, o) in ours {
        let bad: Vec<&String> = o.iter().filter(|(_, v)| v.bad()).map(|(s, _)| s).collect();
        let only_ours = only_ours(ours, reference, test);
        if !only_ours.is_empty() {
            rep_ours.record(
                test,
                Err(anyhow!(
                    "only rbochs fails, or fails what it must pass: {}",
                    only_ours.join(", ")
                )),
            );
        } else if !bad.is_empty() {
            let l: Vec<String> = bad.iter().map(|s| label(s, o[s.as_str()])).collect();
            rep_ours.skip(test, &format!("also fails on C bochs: {}", l.join(", ")));
        } else if o.values().all(|v| *v == Verdict::Skip) {
            rep_ours.skip(test, "IGT skipped every subtest");
        } else {
            rep_ours.record(test, Ok(()));
        }
    }
    for (test, o) in reference {
        let bad: Vec<String> = o
            .iter()
            .filter(|(_, v)| v.bad())
            .map(|(s, v)| label(s, *v))
            .collect();
        if !bad.is_empty() {
            rep_ref.skip(test, &format!("the reference fails: {}", bad.join(", ")));
        } else if o.values().all(|v| *v == Verdict::Skip) {
            rep_ref.skip(test, "IGT skipped every subtest");
        } else {
            rep_ref.record(test, Ok(()));
        }
    }
}

fn label(sub: &str, v: Verdict) -> String {
    if sub.is_empty() {
        v.word().to_string()
    } else {
        format!("{sub} ({})", v.word())
    }
}

/// Counts of each verdict, as "3 pass, 1 skip".
fn counts(o: &Outcome) -> String {
    let mut c: BTreeMap<Verdict, usize> = BTreeMap::new();
    for v in o.values() {
        *c.entry(*v).or_default() += 1;
    }
    c.iter()
        .map(|(v, n)| format!("{n} {}", v.word()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The markdown report: one row per test with both drivers' counts, then one row per subtest
/// where the drivers differ or either fails.
pub fn markdown(
    ours: &BTreeMap<String, Outcome>,
    reference: &BTreeMap<String, Outcome>,
    header: &str,
) -> String {
    let empty = Outcome::new();
    let mut s = String::new();
    let _ = writeln!(s, "{header}\n");
    let _ = writeln!(s, "| test | rbochs | C bochs |\n| --- | --- | --- |");
    let mut names: Vec<&String> = ours.keys().chain(reference.keys()).collect();
    names.sort();
    names.dedup();
    for n in &names {
        let a = ours.get(*n).unwrap_or(&empty);
        let b = reference.get(*n).unwrap_or(&empty);
        let _ = writeln!(s, "| {n} | {} | {} |", counts(a), counts(b));
    }
    let _ = writeln!(
        s,
        "\nSubtests where the drivers differ or either fails:\n\n| test | subtest | rbochs | C bochs |\n| --- | --- | --- | --- |"
    );
    let mut any = false;
    for n in &names {
        let a = ours.get(*n).unwrap_or(&empty);
        let b = reference.get(*n).unwrap_or(&empty);
        let mut subs: Vec<&String> = a.keys().chain(b.keys()).collect();
        subs.sort();
        subs.dedup();
        for sub in subs {
            let va = a.get(sub).copied();
            let vb = b.get(sub).copied();
            if va != vb || va.is_some_and(Verdict::bad) || vb.is_some_and(Verdict::bad) {
                any = true;
                let w = |v: Option<Verdict>| v.map_or("-", Verdict::word);
                let sub = if sub.is_empty() { "(whole test)" } else { sub };
                let _ = writeln!(s, "| {n} | {sub} | {} | {} |", w(va), w(vb));
            }
        }
    }
    if !any {
        let _ = writeln!(s, "| (none) | | | |");
    }
    s
}

/// `vmtest igt`: both drivers, the report and the result lines.
pub fn igt(cfg: &VmConfig, per_test: Duration, only: &[String], md: &Path) -> Result<Report> {
    let tests: Vec<&IgtTest> = TESTS
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == t.name))
        .collect();
    if tests.is_empty() {
        return Err(anyhow!("no IGT test among {}", only.join(", ")));
    }
    let DriverRun {
        results: mut ours,
        why_skipped,
        version,
    } = run_driver(cfg, &suite::RBOCHS, &tests, per_test)?;
    let reference = run_driver(cfg, &suite::C_BOCHS, &tests, per_test)?.results;
    // Vblank timing under TCG varies with the load on the host: a test that fails only on
    // rbochs runs once more, in a fresh boot, and its second result counts. The report says
    // which tests were retried and what failed the first time.
    let retry: Vec<&IgtTest> = tests
        .iter()
        .copied()
        .filter(|t| !only_ours(&ours, &reference, t.name).is_empty())
        .collect();
    let mut retried = Vec::new();
    if !retry.is_empty() {
        let names: Vec<&str> = retry.iter().map(|t| t.name).collect();
        println!(
            "igt: failed only on rbochs, run once more: {}",
            names.join(", ")
        );
        let mut rcfg = cfg.clone();
        rcfg.workdir = cfg.workdir.join("retry");
        let again = run_driver(&rcfg, &suite::RBOCHS, &retry, per_test)?.results;
        for (test, o) in again {
            if test == "kernel-log" {
                continue;
            }
            let first = only_ours(&ours, &reference, &test);
            retried.push(format!("{test} (first run: {})", first.join(", ")));
            ours.insert(test, o);
        }
    }
    // Result names: igt.rbochs.TEST on std-VGA, igt-bochs-display.rbochs.TEST on the other.
    let prefix = match cfg.display.as_str() {
        "VGA" => "igt".to_string(),
        d => format!("igt-{d}"),
    };
    let mut rep_ours = Report::new(&format!("{prefix}.rbochs"));
    let mut rep_ref = Report::new(&format!("{prefix}.cbochs"));
    record(&ours, &reference, &mut rep_ours, &mut rep_ref);
    let header = format!(
        "# IGT GPU Tools: rbochs against C bochs\n\n{version}; `-device {}`, {} guest under {}, at most {} s per test.",
        cfg.display,
        cfg.arch,
        cfg.accel().to_uppercase(),
        (per_test.as_secs_f64() * cfg.time_scale).ceil()
    );
    let mut text = markdown(&ours, &reference, &header);
    if !why_skipped.is_empty() {
        let _ = writeln!(
            text,
            "\nTests IGT skipped whole on rbochs, with the requirements it reported as not met:\n"
        );
        for (test, req) in &why_skipped {
            let req = if req.is_empty() {
                "(none reported)".to_string()
            } else {
                req.join("; ")
            };
            let _ = writeln!(text, "- {test}: {req}");
        }
    }
    if !retried.is_empty() {
        let _ = writeln!(
            text,
            "\nRun again on rbochs after failing only there (the second result counts): {}.",
            retried.join("; ")
        );
    }
    println!("{text}");
    if let Some(d) = md.parent() {
        std::fs::create_dir_all(d).map_err(|e| anyhow!("{}: {e}", d.display()))?;
    }
    std::fs::write(md, &text).map_err(|e| anyhow!("{}: {e}", md.display()))?;
    println!("igt: report written to {}", md.display());
    rep_ours.lines.extend(rep_ref.lines);
    rep_ours.failed += rep_ref.failed;
    Ok(rep_ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn parses_subtests_dynamic_and_timeouts() {
        let o = parse_output(
            &lines(
                "Starting subtest: a\nSubtest a: SUCCESS (0.1s)\nStarting subtest: b\n\
                 Starting dynamic subtest: pipe-A\nDynamic subtest pipe-A: FAIL (1.0s)\n\
                 Subtest b: FAIL (1.0s)\nStarting subtest: c\n",
            ),
            137,
        );
        assert_eq!(o["a"], Verdict::Pass);
        assert_eq!(o["b"], Verdict::Fail);
        assert_eq!(o["b@pipe-A"], Verdict::Fail);
        assert_eq!(o["c"], Verdict::Timeout);
    }

    #[test]
    fn whole_test_from_exit_status() {
        assert_eq!(parse_output(&[], 0)[""], Verdict::Pass);
        assert_eq!(parse_output(&[], 77)[""], Verdict::Skip);
        assert_eq!(parse_output(&[], 98)[""], Verdict::Fail);
    }

    #[test]
    fn shared_failures_are_skips() {
        let mut ours = BTreeMap::new();
        let mut reference = BTreeMap::new();
        let mk = |v: &[(&str, Verdict)]| -> Outcome {
            v.iter().map(|(s, v)| (s.to_string(), *v)).collect()
        };
        ours.insert(
            "x".into(),
            mk(&[("a", Verdict::Fail), ("b", Verdict::Pass)]),
        );
        reference.insert(
            "x".into(),
            mk(&[("a", Verdict::Fail), ("b", Verdict::Pass)]),
        );
        ours.insert("y".into(), mk(&[("a", Verdict::Crash)]));
        reference.insert("y".into(), mk(&[("a", Verdict::Pass)]));
        let mut r1 = Report::new("o");
        let mut r2 = Report::new("r");
        record(&ours, &reference, &mut r1, &mut r2);
        assert!(r1.lines[0].starts_with("SKIP o.x: also fails on C bochs"));
        assert!(r1.lines[1]
            .starts_with("FAIL o.y: only rbochs fails, or fails what it must pass: a (crash)"));
        assert_eq!(r1.failed, 1);
        assert!(r2.lines[0].starts_with("SKIP r.x: the reference fails"));
        assert_eq!(r2.lines[1], "PASS r.y");
    }

    #[test]
    fn rbochs_must_pass_what_it_passes_by_design() {
        let test = RBOCHS_PASSES[0].0;
        let subs: Vec<&str> = RBOCHS_PASSES
            .iter()
            .filter(|(t, _)| *t == test)
            .map(|(_, s)| *s)
            .collect();
        let mk = |v: Verdict| -> BTreeMap<String, Outcome> {
            let o = subs.iter().map(|s| (s.to_string(), v)).collect();
            [(test.to_string(), o)].into_iter().collect()
        };
        let want = |w: &str| -> Vec<String> {
            subs.iter()
                .map(|s| format!("{s} ({w}, must pass)"))
                .collect()
        };
        let reference = mk(Verdict::Fail);
        // Failing them together with C bochs is not a shared failure here.
        assert_eq!(
            only_ours(&mk(Verdict::Fail), &reference, test),
            want("fail")
        );
        assert_eq!(
            only_ours(&mk(Verdict::Skip), &reference, test),
            want("skip")
        );
        assert!(only_ours(&mk(Verdict::Pass), &reference, test).is_empty());
        // A test that ran without one of them (it crashed first, or the selection changed).
        let mut partial = mk(Verdict::Pass);
        partial.get_mut(test).unwrap().remove(subs[0]);
        assert_eq!(
            only_ours(&partial, &reference, test),
            [format!("{} (did not run, must pass)", subs[0])]
        );
        let mut r1 = Report::new("o");
        let mut r2 = Report::new("r");
        record(&mk(Verdict::Fail), &reference, &mut r1, &mut r2);
        assert_eq!(r1.failed, 1);
        // A test that did not run at all is not checked.
        assert!(only_ours(&BTreeMap::new(), &reference, test).is_empty());
    }
}
