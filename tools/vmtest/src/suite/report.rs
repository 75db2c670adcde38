// SPDX-License-Identifier: GPL-2.0
//! Result lines and the checks every suite ends with: the kernel log and kmemleak.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::anyhow;

use crate::image::PixelsDiffer;
use crate::vm::{indent, Vm};
use crate::Result;

/// Collects outcomes and writes one line per test to the results file.
pub struct Report {
    prefix: String,
    pub lines: Vec<String>,
    pub failed: usize,
    /// Why a screenshot that differs from the expected image is expected of this run, if it
    /// is (see [`Report::expect_wrong_pictures`]).
    wrong_pictures: Option<&'static str>,
}

impl Report {
    pub fn new(prefix: &str) -> Report {
        Report {
            prefix: prefix.to_string(),
            lines: Vec::new(),
            failed: 0,
            wrong_pictures: None,
        }
    }

    /// From now on a check that fails only because a screenshot differs from the expected
    /// image ([`PixelsDiffer`]) is recorded as a skip saying `why`: the reference driver under
    /// arm64 KVM, whose non-cacheable video memory mapping is not coherent with QEMU's
    /// (the bug rbochs fixes). Any other failure still fails.
    pub fn expect_wrong_pictures(&mut self, why: &'static str) {
        self.wrong_pictures = Some(why);
    }

    /// Records a test that did not run, or whose failure is the reference driver's own.
    pub fn skip(&mut self, name: &str, why: &str) {
        let line = format!("SKIP {}.{name}: {why}", self.prefix);
        println!("{line}");
        self.lines.push(line);
    }

    /// Records a test that passed with what it measured (`PASS prefix.name: note`), or its
    /// failure as [`Report::record`] does.
    pub fn record_note(&mut self, name: &str, r: Result<String>) -> bool {
        match r {
            Ok(note) => {
                let line = format!("PASS {}.{name}: {note}", self.prefix);
                println!("{line}");
                self.lines.push(line);
                true
            }
            Err(e) => self.record(name, Err(e)),
        }
    }

    pub fn record(&mut self, name: &str, r: Result<()>) -> bool {
        let full = format!("{}.{name}", self.prefix);
        let line = match &r {
            Ok(()) => format!("PASS {full}"),
            Err(e)
                if e.chain().any(|c| c.is::<PixelsDiffer>()) && self.wrong_pictures.is_some() =>
            {
                format!(
                    "SKIP {full}: expected, {}: {e:#}",
                    self.wrong_pictures.unwrap_or_default()
                )
            }
            Err(e) => {
                self.failed += 1;
                format!("FAIL {full}: {e:#}")
            }
        };
        println!("{line}");
        self.lines.push(line);
        r.is_ok()
    }
}

/// Formats the results for the summary.
pub fn summary_line(passed: usize, failed: usize, skipped: usize) -> String {
    let mut s = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        let _ = write!(s, ", {skipped} skipped");
    }
    s
}

/// Kernel log lines that mean something went wrong, whatever the test.
const BAD_LOG: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "Unable to handle kernel",
    "KASAN",
    "UBSAN",
    "suspected memory leak",
    "possible recursive locking",
    "possible circular locking",
    "inconsistent lock state",
    "suspicious RCU usage",
    "blocked for more than",
    "Kernel panic",
    "Call trace:",
    // drm_mode_config_validate(): a plane offers alpha formats without a blend mode property.
    "Please fix",
    // A log prefix doubled by hand: `pr_*!` already prefix the module name.
    "rbochs: rbochs:",
];

/// Whether a kernel log line means something went wrong.
pub fn is_bad(line: &str) -> bool {
    BAD_LOG.iter().any(|p| line.contains(p))
}

/// Worrying kernel log lines since the last call.
pub fn kernel_log_problems(vm: &mut Vm) -> Result<Vec<String>> {
    let out = vm.ok("dmesg -c")?;
    Ok(out.into_iter().filter(|l| is_bad(l)).collect())
}

/// Fails on any worrying kernel log line since the last call.
pub fn check_kernel_log(vm: &mut Vm) -> Result<()> {
    let bad = kernel_log_problems(vm)?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("kernel log reports problems:\n{}", indent(&bad)))
    }
}

/// Has kmemleak forget the objects allocated so far (boot), so that a later scan reports
/// only what the tests leak. Kernels without kmemleak have no file: nothing to do.
pub fn clear_kmemleak(vm: &mut Vm) {
    let _ = vm.run(
        "echo clear > /sys/kernel/debug/kmemleak",
        Duration::from_secs(60),
    );
}

/// Asks kmemleak for a scan and fails on any report.
pub fn check_kmemleak(vm: &mut Vm) -> Result<()> {
    let out = vm.ok("test -e /sys/kernel/debug/kmemleak || exit 0; \
         echo scan > /sys/kernel/debug/kmemleak; cat /sys/kernel/debug/kmemleak")?;
    if out.iter().any(|l| l.contains("unreferenced object")) {
        return Err(anyhow!(
            "kmemleak reports leaks:\n{}",
            indent(&out[..out.len().min(30)])
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Image;

    #[test]
    fn summary_format() {
        assert_eq!(summary_line(3, 0, 0), "3 passed, 0 failed");
        assert_eq!(summary_line(3, 1, 2), "3 passed, 1 failed, 2 skipped");
    }

    #[test]
    fn notes_follow_passes_only() {
        let mut r = Report::new("s");
        assert!(r.record_note("a", Ok("torn 0/200".into())));
        assert!(!r.record_note("b", Err(anyhow!("3 torn"))));
        assert_eq!(r.lines, ["PASS s.a: torn 0/200", "FAIL s.b: 3 torn"]);
        assert_eq!(r.failed, 1);
    }

    #[test]
    fn bad_log_lines() {
        assert!(is_bad(
            "[    1.0] WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/x.c:1"
        ));
        assert!(!is_bad(
            "[    1.0] rbochs 0000:00:01.0: [drm] fb0: rbochsdrmfb"
        ));
        // The DRM core's complaint about alpha formats without a blend mode property.
        assert!(is_bad(
            "[    1.0] [drm] [PLANE:31:plane-0] pixel format with alpha exposed but blend \
             mode not setup. Please fix."
        ));
        assert!(is_bad("[    1.0] rbochs: rbochs: damage not copied"));
    }

    fn wrong_picture() -> Result<()> {
        let img = Image {
            width: 1,
            height: 1,
            pixels: vec![0],
        };
        img.compare(|_, _| 1).map_err(|e| e.context("shot.png"))
    }

    #[test]
    fn wrong_pictures_are_skips_only_where_expected() {
        let mut r = Report::new("s");
        r.record("a", wrong_picture());
        assert_eq!(r.failed, 1);
        r.expect_wrong_pictures("why");
        r.record("b", wrong_picture());
        r.record("c", Err(anyhow!("no screenshot")));
        assert_eq!(r.failed, 2);
        assert_eq!(
            r.lines[1],
            "SKIP s.b: expected, why: shot.png: 1 of 1 pixels differ: (0,0) is 000000, want 000001"
        );
        assert!(r.lines[2].starts_with("FAIL s.c: no screenshot"));
    }
}
