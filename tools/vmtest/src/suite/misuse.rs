// SPDX-License-Identifier: GPL-2.0
//! The misuse suite: out-of-tree modules in safe Rust that misuse the kernel crate
//! (`tools/misuse/cases`), loaded in the debug guest.
//!
//! `vmtest misuse-build` compiles the cases (and checks those that must not compile) into
//! `misuse.cpio` and `cases.json`, by default in the directory `misuse` beside the initramfs
//! (`VMTEST_MISUSE_DIR` names another). This suite boots once with that archive appended to
//! the initramfs and, for each case, loads the module, checks `insmod`'s result against the
//! case's expectation, runs its triggers, unloads it (checking `rmmod`'s result), and fails
//! on any problem the kernel log reports meanwhile (KASAN, lockdep, WARN, BUG, oops, or a
//! line with [`CASE_FAIL`], which a case's module prints when a check of its own fails). A case
//! that kills the guest fails with the console's tail, and the guest is booted again for the
//! next one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

use super::boot_suite;
use super::report::{check_kmemleak, clear_kmemleak, is_bad, Report};
use crate::misuse::{read_manifest, strerror, Case, Expect};
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;

/// Where `misuse-build` left its output for the initramfs `initrd`.
pub fn misuse_dir(initrd: &Path) -> PathBuf {
    match std::env::var_os("VMTEST_MISUSE_DIR") {
        Some(d) => PathBuf::from(d),
        None => initrd.parent().unwrap_or(Path::new(".")).join("misuse"),
    }
}

pub fn misuse_suite(cfg: &VmConfig, rep: &mut Report) -> Result<()> {
    let dir = misuse_dir(&cfg.initrd);
    let cases = match read_manifest(&dir.join("cases.json")) {
        Ok(c) => c,
        Err(e) => {
            rep.record(
                "cases",
                Err(anyhow!(
                    "{e:#}; run 'vmtest misuse-build' for this kernel first"
                )),
            );
            return Ok(());
        }
    };
    // The guest's initramfs with the cases' modules appended (the kernel unpacks both).
    let mut cfg = cfg.clone();
    let initrd = cfg.workdir.join("misuse-initrd.cpio");
    let mut data = crate::read(&cfg.initrd)?;
    data.extend(crate::read(&dir.join("misuse.cpio"))?);
    std::fs::create_dir_all(&cfg.workdir)?;
    std::fs::write(&initrd, data).map_err(|e| anyhow!("{}: {e}", initrd.display()))?;
    cfg.initrd = initrd;
    // Every KASAN report, not only the first of the boot: each case is judged on its own.
    cfg.append = format!("{} kasan_multi_shot", cfg.append)
        .trim()
        .to_string();

    let mut vm: Option<Vm> = None;
    let mut boots = 0;
    for case in &cases {
        if vm.is_none() {
            boots += 1;
            let name = if boots == 1 {
                "misuse".to_string()
            } else {
                format!("misuse-{boots}")
            };
            let Some(mut v) = boot_suite(&cfg, &name, "VGA".into(), rep) else {
                return Ok(());
            };
            clear_kmemleak(&mut v);
            let log = if boots == 1 {
                "boot-log".to_string()
            } else {
                format!("boot-log-{boots}")
            };
            rep.record(&log, check_log(&mut v));
            vm = Some(v);
        }
        let v = vm.as_mut().expect("booted above");
        match run_case(v, case) {
            Ok((r, tainted)) => {
                rep.record_note(&case.name, r);
                // A case that corrupted the kernel gets no say over the next one's result.
                if tainted {
                    if let Some(v) = vm.take() {
                        let _ = v.shutdown();
                    }
                }
            }
            Err(e) => {
                // The guest stopped answering: the case crashed or hung it.
                rep.record(&case.name, Err(anyhow!("the guest died: {e:#}")));
                if let Some(v) = vm.take() {
                    let _ = v.shutdown();
                }
            }
        }
    }
    let Some(mut vm) = vm else {
        return Ok(());
    };
    rep.record("kmemleak", check_kmemleak(&mut vm));
    vm.shutdown()
}

/// What a case's module prints to fail a check of its own (one that leaves no other trace in
/// the log, e.g. a wrapper that accepted what it should refuse).
pub const CASE_FAIL: &str = "MISUSE-FAIL";

/// Kernel log lines since the last call that report a problem, or a case's own failure.
fn log_problems(vm: &mut Vm) -> Result<Vec<String>> {
    let out = vm.ok("dmesg -c")?;
    Ok(out
        .into_iter()
        .filter(|l| is_bad(l) || l.contains(CASE_FAIL))
        .collect())
}

/// Fails on problems in the kernel log since the last check.
fn check_log(vm: &mut Vm) -> Result<()> {
    let bad = log_problems(vm)?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("kernel log reports problems:\n{}", indent(&bad)))
    }
}

/// Console lines that mean the guest is dying: an oops or a panic (the kernel's console
/// level is 1, so KASAN's and WARN's reports only show in `dmesg`).
const DYING: &[&str] = &["Internal error:", "Kernel panic", "Unable to handle kernel"];

/// Runs `cmd` in the guest; `Err` if the guest dies meanwhile (oops, panic, QEMU exits) or
/// the command hangs.
fn run_watched(vm: &mut Vm, cmd: &str) -> Result<(i32, Vec<String>)> {
    let n = vm.start(cmd)?;
    vm.finish_each(n, Duration::from_secs(120), |vm, l| {
        if DYING.iter().any(|d| l.contains(d)) {
            // Let the rest of the report reach the console.
            let _ = vm.wait_for(|_| false, Duration::from_secs(3));
            return Err(anyhow!("'{cmd}': the kernel oopsed:\n{}", vm.tail()));
        }
        Ok(())
    })
}

/// Runs one case: its result, and whether it left the kernel tainted (reports in the log).
/// `Err` means the guest died.
fn run_case(vm: &mut Vm, case: &Case) -> Result<(Result<String>, bool)> {
    let module = &case.name;
    let (rc, out) = run_watched(vm, &format!("insmod /misuse/{module}.ko {}", case.params))?;
    let mut verdict = match (&case.expect, rc) {
        (Expect::InsmodErrno(e), 0) => Err(anyhow!("insmod succeeded; want {e}")),
        (Expect::InsmodErrno(e), _) => says_errno(&out, e).map(|_| format!("insmod: {e}")),
        (_, 0) => Ok("loaded".to_string()),
        (_, _) => Err(anyhow!("insmod failed:\n{}", indent(&out))),
    };
    if rc == 0 {
        for t in &case.triggers {
            let (trc, _) = run_watched(vm, t)?;
            if let Ok(note) = &mut verdict {
                note.push_str(&format!("; '{t}' exited {trc}"));
            }
        }
        let (rrc, rout) = run_watched(vm, &format!("rmmod {module}"))?;
        let unloaded = match (&case.expect, rrc) {
            (Expect::RmmodErrno(e), 0) => Err(anyhow!("rmmod succeeded; want {e}")),
            (Expect::RmmodErrno(e), _) => says_errno(&rout, e).map(|_| format!("rmmod: {e}")),
            (_, 0) => Ok("unloaded".to_string()),
            (_, _) => Err(anyhow!("rmmod failed:\n{}", indent(&rout))),
        };
        verdict = match (verdict, unloaded) {
            (Ok(a), Ok(b)) => Ok(format!("{a}; {b}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    // Whatever the case expects, the kernel log must stay clean.
    let bad = log_problems(vm)?;
    let tainted = !bad.is_empty();
    if tainted {
        let why = match verdict {
            Ok(_) => String::new(),
            Err(e) => format!("{e:#}; "),
        };
        verdict = Err(anyhow!(
            "{why}kernel log reports problems:\n{}",
            indent(&bad)
        ));
    }
    Ok((verdict, tainted))
}

/// Whether busybox's insmod or rmmod output names the errno `e`.
fn says_errno(out: &[String], e: &str) -> Result<()> {
    let msg = strerror(e).ok_or_else(|| anyhow!("unknown errno {e}"))?;
    if out.iter().any(|l| l.ends_with(&format!(": {msg}"))) {
        Ok(())
    } else {
        Err(anyhow!("want {e} ({msg}), got:\n{}", indent(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_from_busybox_output() {
        let out = vec!["insmod: can't insert '/misuse/x.ko': Invalid argument".to_string()];
        assert!(says_errno(&out, "EINVAL").is_ok());
        assert!(says_errno(&out, "EBUSY").is_err());
        let out = vec!["rmmod: can't unload module 'x': Resource temporarily unavailable".into()];
        assert!(says_errno(&out, "EAGAIN").is_ok());
    }

    #[test]
    fn misuse_dir_defaults_beside_the_initramfs() {
        if std::env::var_os("VMTEST_MISUSE_DIR").is_none() {
            assert_eq!(
                misuse_dir(Path::new("/b/arm64-test/initramfs.cpio")),
                Path::new("/b/arm64-test/misuse")
            );
        }
    }
}
