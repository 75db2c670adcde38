// SPDX-License-Identifier: GPL-2.0
//! IGT GPU Tools on rbochs and, side by side, on Linux's C bochs driver.
//!
//! The guest's initramfs carries IGT's test programs under `/igt` (with their shared
//! libraries). For each driver the guest boots afresh, loads that one driver, and runs each
//! test with a bound on its time; IGT's own per-subtest verdicts (`Subtest NAME: SUCCESS`,
//! `SKIP`, `FAIL`, `CRASH`) are parsed from its output. A failure C bochs shares is not
//! counted as rbochs's: it is recorded as a skip, with that reason.

mod list;
mod parse;
mod timing;
mod verdict;

pub use list::TESTS;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use crate::suite::{self, Driver, Report};
use crate::vm::{Vm, VmConfig};
use crate::Result;
use list::IgtTest;
use parse::{parse_output, Outcome, Verdict};
use verdict::{markdown, only_ours, record};

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
        let sel = match timing::without_timing(t.name, t.subtests) {
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

/// `vmtest igt`: both drivers, the report and the result lines.
///
/// The timing subtests ([`timing::TIMING`]) of the chosen tests run apart,
/// `timing_runs` times on each driver; with `timing_only`, nothing else runs.
pub fn igt(
    cfg: &VmConfig,
    per_test: Duration,
    only: &[String],
    md: &Path,
    timing_runs: u32,
    timing_only: bool,
) -> Result<Report> {
    let tests: Vec<&IgtTest> = TESTS
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == t.name))
        .collect();
    if tests.is_empty() {
        return Err(anyhow!("no IGT test among {}", only.join(", ")));
    }
    let timing: Vec<(&str, &str)> = timing::TIMING
        .iter()
        .copied()
        .filter(|(t, _)| tests.iter().any(|x| x.name == *t))
        .collect();
    if timing_only {
        return igt_timing(cfg, per_test, &timing, timing_runs, md);
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
    let mut timing_md = String::new();
    if !timing.is_empty() {
        let samples = timing::sample(cfg, &timing, timing_runs, per_test)?;
        timing_md = timing::record(
            &timing,
            &samples,
            cfg.accel() == "kvm",
            &mut rep_ours,
            &mut rep_ref,
        );
    }
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
    text.push_str(&timing_md);
    if !retried.is_empty() {
        let _ = writeln!(
            text,
            "\nRun again on rbochs after failing only there (the second result counts): {}.",
            retried.join("; ")
        );
    }
    write_report(md, &text)?;
    rep_ours.lines.extend(rep_ref.lines);
    rep_ours.failed += rep_ref.failed;
    Ok(rep_ours)
}

/// Prints the markdown report and writes it to `md`.
fn write_report(md: &Path, text: &str) -> Result<()> {
    println!("{text}");
    if let Some(d) = md.parent() {
        std::fs::create_dir_all(d).map_err(|e| anyhow!("{}: {e}", d.display()))?;
    }
    std::fs::write(md, text).map_err(|e| anyhow!("{}: {e}", md.display()))?;
    println!("igt: report written to {}", md.display());
    Ok(())
}

/// `vmtest igt --timing-only`: only the timing subtests, `runs` times on each driver; the
/// result lines are judged as in a full run.
fn igt_timing(
    cfg: &VmConfig,
    per_test: Duration,
    timing: &[(&str, &str)],
    runs: u32,
    md: &Path,
) -> Result<Report> {
    if timing.is_empty() {
        return Err(anyhow!("none of the chosen tests has timing subtests"));
    }
    let samples = timing::sample(cfg, timing, runs, per_test)?;
    let mut rep_ours = Report::new("igt-timing.rbochs");
    let mut rep_ref = Report::new("igt-timing.cbochs");
    let judged = cfg.accel() == "kvm";
    let section = timing::record(timing, &samples, judged, &mut rep_ours, &mut rep_ref);
    let text = format!(
        "# IGT timing subtests: rbochs against C bochs\n\n`-device {}`, {} guest under {}, \
         at most {} s per run.\n{section}",
        cfg.display,
        cfg.arch,
        cfg.accel().to_uppercase(),
        (per_test.as_secs_f64() * cfg.time_scale).ceil()
    );
    write_report(md, &text)?;
    rep_ours.lines.extend(rep_ref.lines);
    rep_ours.failed += rep_ref.failed;
    Ok(rep_ours)
}
