// SPDX-License-Identifier: GPL-2.0
//! IGT's timing subtests, judged from samples on both drivers.
//!
//! A few IGT subtests measure time rather than behaviour: kms_flip's `plain-flip-ts-check`
//! counts flip events against the time elapsed and wants 85 % of the frames on time;
//! kms_sequence's `queue-busy` wants vblank events queued while the CPU is busy delivered on
//! their frame. Under TCG the guest's time is what the host has left to give: on a loaded host
//! either driver misses frames, and one run is a coin toss, not a verdict on the driver.
//!
//! These subtests therefore run apart from the rest: several times on each driver, in one
//! boot, switching the display between the drivers in the order rbochs, C bochs, C bochs,
//! rbochs, ... so that whatever load the host carries falls on both alike. Each run gives a
//! verdict and, when IGT reports it, the share of frames that were on time.
//!
//! The verdict on rbochs, per subtest: where the guest runs at the host's speed (KVM), rbochs
//! fails if it passes fewer runs than C bochs. Under TCG the counts are reported and not
//! judged: a result line says how each driver did (a SKIP), and the report has every run.
//! `make igt-timing` takes many samples to compare the drivers' timing; README.md has the
//! figures.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::anyhow;

use super::parse::{parse_output, Verdict};
use crate::suite::{self, Report};
use crate::vm::{Vm, VmConfig};
use crate::Result;

/// The timing subtests: test and subtest.
pub const TIMING: &[(&str, &str)] = &[
    ("kms_flip", "plain-flip-ts-check"),
    ("kms_sequence", "queue-busy"),
];

/// The subtest pattern that leaves [`TIMING`]'s subtests of `test` out of a selection
/// (`None`: all subtests), for the ordinary run.
pub fn without_timing(test: &str, sel: Option<&str>) -> Option<String> {
    let excluded: Vec<&str> = TIMING
        .iter()
        .filter(|(t, _)| *t == test)
        .map(|(_, s)| *s)
        .collect();
    if excluded.is_empty() {
        return sel.map(str::to_string);
    }
    match sel {
        // An explicit list: drop them from it.
        Some(s) if !s.starts_with('*') => Some(
            s.split(',')
                .filter(|x| !excluded.contains(x))
                .collect::<Vec<_>>()
                .join(","),
        ),
        // A pattern of every subtest but some: exclude them too.
        s => {
            let mut p = s.unwrap_or("*").to_string();
            for x in excluded {
                let _ = write!(p, ",!{x}");
            }
            Some(p)
        }
    }
}

/// One run of a timing subtest.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub verdict: Verdict,
    /// Frames on time against frames expected, when IGT says (`expected N, counted M`).
    pub on_time: Option<(u32, u32)>,
}

/// `expected N, counted M` in IGT's output (kms_flip's frame count check), as (M, N).
pub fn parse_on_time(lines: &[String]) -> Option<(u32, u32)> {
    lines.iter().find_map(|l| {
        let (_, rest) = l.split_once("expected ")?;
        let (expected, rest) = rest.split_once(", counted ")?;
        let counted: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((counted.parse().ok()?, expected.trim().parse().ok()?))
    })
}

/// The samples of one subtest on both drivers, and the worrying kernel log lines each
/// driver's runs left.
#[derive(Default)]
pub struct Samples {
    pub ours: Vec<Sample>,
    pub reference: Vec<Sample>,
    pub ours_log: Vec<String>,
    pub reference_log: Vec<String>,
}

impl Samples {
    fn passed(v: &[Sample]) -> usize {
        v.iter().filter(|s| s.verdict == Verdict::Pass).count()
    }

    /// The verdict on rbochs: `Err` when it passed fewer runs than C bochs and `judged`.
    pub fn judge(&self, judged: bool) -> Result<()> {
        let (a, b) = (Self::passed(&self.ours), Self::passed(&self.reference));
        if judged && a < b {
            Err(anyhow!(
                "rbochs passed {a} of {} runs, C bochs {b} of {}",
                self.ours.len(),
                self.reference.len()
            ))
        } else {
            Ok(())
        }
    }

    /// "3/4 passed (on time: 91.2 %, 80.1 %, ...)".
    pub fn describe(v: &[Sample]) -> String {
        let rates: Vec<String> = v
            .iter()
            .map(|s| match s.on_time {
                Some((c, e)) if e > 0 => format!("{:.1} %", 100.0 * f64::from(c) / f64::from(e)),
                _ => s.verdict.word().to_string(),
            })
            .collect();
        format!(
            "{}/{} passed ({})",
            Self::passed(v),
            v.len(),
            rates.join(", ")
        )
    }
}

/// Runs one timing subtest on the driver the display is bound to now.
fn run_once(vm: &mut Vm, test: &str, sub: &str, secs: u64) -> Result<Sample> {
    // The failure message carries the frame count; on success IGT prints it at debug level
    // only, so the count is known for failed runs.
    let cmd = format!(
        "cd /igt; timeout -s KILL {secs} ./{test} --run-subtest '{sub}' >/tmp/t.log 2>&1; \
         rc=$?; grep -aE '^(Starting subtest|Subtest .*: )|expected [0-9]+, counted' /tmp/t.log; \
         cd /; (exit $rc)"
    );
    let (rc, out) = vm.run(&cmd, Duration::from_secs(secs + 60))?;
    let o = parse_output(&out, rc);
    let verdict = o.get(sub).copied().unwrap_or(Verdict::Crash);
    Ok(Sample {
        verdict,
        on_time: parse_on_time(&out),
    })
}

/// Boots once and runs each of `subtests` `runs` times on each driver, alternating.
pub fn sample(
    cfg: &VmConfig,
    subtests: &[(&str, &str)],
    runs: u32,
    per_test: Duration,
) -> Result<Vec<Samples>> {
    let mut cfg = cfg.clone();
    cfg.workdir = cfg.workdir.join("timing");
    let mut vm = Vm::boot(&cfg, Duration::from_secs((300.0 * cfg.time_scale) as u64))?;
    vm.ok("test -x /igt/kms_flip || { echo 'no IGT in the initramfs (/igt)'; exit 1; }")?;
    let dev = suite::pci_name(&mut vm)?;
    let secs = (per_test.as_secs() as f64 * cfg.time_scale).ceil() as u64;
    let mut all: Vec<Samples> = subtests.iter().map(|_| Samples::default()).collect();
    let drivers = suite::DRIVERS;
    for round in 0..2 * runs {
        // rbochs, C bochs, C bochs, rbochs, ...: neither always goes first.
        let which = (round + round / 2) % 2;
        let drv = drivers[which as usize];
        crate::bench::bind(&mut vm, &dev, drv)?;
        for (i, (test, sub)) in subtests.iter().enumerate() {
            let s = run_once(&mut vm, test, sub, secs)?;
            // The kernel log after each run, so that a problem is the driver's that ran.
            let log = suite::kernel_log_problems(&mut vm)?;
            println!(
                "igt-timing: {} {test} {sub}: {}{}",
                drv.module,
                s.verdict.word(),
                s.on_time
                    .map(|(c, e)| format!(" ({c} of {e} frames on time)"))
                    .unwrap_or_default()
            );
            if which == 0 {
                all[i].ours.push(s);
                all[i].ours_log.extend(log);
            } else {
                all[i].reference.push(s);
                all[i].reference_log.extend(log);
            }
        }
    }
    vm.shutdown()?;
    Ok(all)
}

/// Records one line per timing subtest and driver, and returns the report's section.
pub fn record(
    subtests: &[(&str, &str)],
    samples: &[Samples],
    judged: bool,
    rep_ours: &mut Report,
    rep_ref: &mut Report,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\nTiming subtests, {} runs per driver in one boot, alternating ({}):\n\n\
         | subtest | rbochs | C bochs |\n| --- | --- | --- |",
        samples.first().map_or(0, |s| s.ours.len()),
        if judged {
            "rbochs fails if it passes fewer runs than C bochs"
        } else {
            "under TCG reported, not judged"
        }
    );
    for ((test, sub), s) in subtests.iter().zip(samples) {
        let name = format!("{test}@{sub}");
        let (a, b) = (Samples::describe(&s.ours), Samples::describe(&s.reference));
        let _ = writeln!(md, "| {name} | {a} | {b} |");
        match s.judge(judged) {
            Err(e) => {
                rep_ours.record(&name, Err(e));
            }
            Ok(()) if judged => {
                rep_ours.record(&name, Ok(()));
            }
            Ok(()) => rep_ours.skip(&name, &format!("timing under TCG, not judged: {a}")),
        }
        rep_ref.skip(&name, &format!("timing, the reference's own: {b}"));
        // What the kernel said is judged as strictly as after any other test.
        let log = format!("{name}.kernel-log");
        if s.ours_log.is_empty() {
            rep_ours.record(&log, Ok(()));
        } else {
            rep_ours.record(&log, Err(anyhow!("kernel log:\n{}", s.ours_log.join("\n"))));
        }
        if s.reference_log.is_empty() {
            rep_ref.record(&log, Ok(()));
        } else {
            let _ = writeln!(md, "\nC bochs's kernel log during {name}:\n");
            for l in &s.reference_log {
                let _ = writeln!(md, "    {l}");
            }
            rep_ref.skip(
                &log,
                &format!("the reference fails: {}", s.reference_log[0].trim()),
            );
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Verdict) -> Sample {
        Sample {
            verdict: v,
            on_time: None,
        }
    }

    #[test]
    fn timing_subtests_leave_the_ordinary_run() {
        assert_eq!(
            without_timing(
                "kms_flip",
                Some("basic-plain-flip,plain-flip-ts-check,flip-vs-rmfb")
            )
            .as_deref(),
            Some("basic-plain-flip,flip-vs-rmfb")
        );
        assert_eq!(
            without_timing("kms_sequence", None).as_deref(),
            Some("*,!queue-busy")
        );
        assert_eq!(
            without_timing("kms_vblank", Some("*,!*-hang")).as_deref(),
            Some("*,!*-hang")
        );
        assert_eq!(without_timing("kms_atomic", None), None);
    }

    #[test]
    fn frame_counts_from_igt_output() {
        let l = |s: &str| vec![s.to_string()];
        assert_eq!(
            parse_on_time(&l(
                "(kms_flip:301) CRITICAL: Event flip: expected 2250, counted 1560, passrate = 55.77%, encoder type 1"
            )),
            Some((1560, 2250))
        );
        assert_eq!(
            parse_on_time(&l("Subtest plain-flip-ts-check: SUCCESS")),
            None
        );
    }

    #[test]
    fn judged_only_where_timing_is_real() {
        let x = Samples {
            ours: vec![s(Verdict::Fail), s(Verdict::Pass)],
            reference: vec![s(Verdict::Pass), s(Verdict::Pass)],
            ..Default::default()
        };
        assert!(x.judge(true).is_err());
        assert!(x.judge(false).is_ok());
        let even = Samples {
            ours: vec![s(Verdict::Fail), s(Verdict::Pass)],
            reference: vec![s(Verdict::Pass), s(Verdict::Fail)],
            ..Default::default()
        };
        assert!(even.judge(true).is_ok());
        let mut a = Report::new("o");
        let mut b = Report::new("r");
        let md = record(&TIMING[..1], &[x], false, &mut a, &mut b);
        assert_eq!(a.failed, 0);
        assert!(a.lines[0].starts_with("SKIP o.kms_flip@plain-flip-ts-check: timing under TCG"));
        assert!(md.contains("| kms_flip@plain-flip-ts-check | 1/2 passed (fail, pass) |"));
        assert_eq!(a.lines[1], "PASS o.kms_flip@plain-flip-ts-check.kernel-log");
    }

    #[test]
    fn kernel_log_problems_are_the_driver_that_ran() {
        let bug =
            "BUG: KASAN: slab-use-after-free in drm_atomic_helper_wait_for_vblanks".to_string();
        let theirs = Samples {
            ours: vec![s(Verdict::Pass)],
            reference: vec![s(Verdict::Pass)],
            reference_log: vec![bug.clone()],
            ..Default::default()
        };
        let (mut a, mut b) = (Report::new("o"), Report::new("r"));
        record(&TIMING[..1], &[theirs], false, &mut a, &mut b);
        assert_eq!(a.failed, 0);
        assert!(b.lines[1]
            .starts_with("SKIP r.kms_flip@plain-flip-ts-check.kernel-log: the reference fails"));
        let ours = Samples {
            ours: vec![s(Verdict::Pass)],
            reference: vec![s(Verdict::Pass)],
            ours_log: vec![bug],
            ..Default::default()
        };
        let (mut a, mut b) = (Report::new("o"), Report::new("r"));
        record(&TIMING[..1], &[ours], false, &mut a, &mut b);
        assert_eq!(a.failed, 1);
    }
}
