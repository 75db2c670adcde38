// SPDX-License-Identifier: GPL-2.0
//! KUnit: the kernel crate's KMS tests and doctests, run at boot.

use anyhow::anyhow;

use super::boot_suite;
use super::report::Report;
use crate::vm::{indent, VmConfig};
use crate::Result;

/// KUnit: the test kernel runs the kernel crate's KMS tests at boot when asked; count each case
/// from the KTAP output.
pub fn kunit_suite(cfg: &VmConfig, rep: &mut Report) -> Result<()> {
    let mut cfg = cfg.clone();
    // Built-in suites run at boot only when asked to; run every Rust one (our KUnit suites and
    // the kernel crate's doctests, ours among them).
    cfg.append = format!(
        "{} kunit.enable=1 kunit.autorun=1 kunit.filter_glob=rust_*",
        cfg.append
    );
    let Some(mut vm) = boot_suite(&cfg, "kunit", "VGA".into(), rep) else {
        return Ok(());
    };
    // A module's suites run when it loads: rbochs's own (`rust_rbochs_*`).
    rep.record("load-rbochs", vm.ok("modprobe rbochs").map(|_| ()));
    let log = vm.ok("dmesg")?;
    let cases = ktap_cases(&log);
    let ours: Vec<_> = cases.iter().filter(|(n, _)| is_ours(n)).collect();
    if ours.is_empty() {
        rep.record(
            "cases",
            Err(anyhow!(
                "none of our KUnit cases or doctests in the boot log:\n{}",
                indent(&log[log.len().saturating_sub(20)..])
            )),
        );
    }
    for (name, ok) in &ours {
        let r = if *ok {
            Ok(())
        } else {
            Err(anyhow!("KUnit case failed"))
        };
        rep.record(name, r);
    }
    // The rest of the kernel crate's tests run too: our patches must not break them.
    let others: Vec<_> = cases.iter().filter(|(n, _)| !is_ours(n)).collect();
    let failed: Vec<_> = others
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| n.as_str())
        .collect();
    println!("INFO {} other Rust KUnit cases ran", others.len());
    rep.record(
        "other-rust-cases",
        if failed.is_empty() {
            Ok(())
        } else {
            Err(anyhow!("failed: {}", failed.join(", ")))
        },
    );
    vm.shutdown()
}

/// Our KUnit suites and the doctests of the files we add to the kernel crate.
fn is_ours(case: &str) -> bool {
    const OURS: &[&str] = &[
        "rust_drm_kms",
        "drm_kms",
        "module_param",
        "io_memremap",
        "pci_memremap",
        "aperture",
        "pci_driver_hooks",
        "rbochs",
    ];
    OURS.iter().any(|o| case.contains(o))
}

/// Test cases in KTAP output: `(suite.case, passed)`.
pub fn ktap_cases(lines: &[String]) -> Vec<(String, bool)> {
    let mut suite = String::new();
    let mut cases = Vec::new();
    for l in lines {
        // Drop the printk timestamp.
        let l = match l.find("] ") {
            Some(i) if l.starts_with('[') => &l[i + 2..],
            _ => l.as_str(),
        };
        if let Some(name) = l.trim().strip_prefix("# Subtest: ") {
            suite = name.trim().to_string();
            continue;
        }
        if !l.starts_with([' ', '\t']) {
            continue;
        }
        let t = l.trim_start();
        let (ok, rest) = if let Some(r) = t.strip_prefix("not ok ") {
            (false, r)
        } else if let Some(r) = t.strip_prefix("ok ") {
            (true, r)
        } else {
            continue;
        };
        let mut w = rest.split_whitespace();
        let (Some(_num), Some(name)) = (w.next(), w.next()) else {
            continue;
        };
        cases.push((format!("{suite}.{name}"), ok));
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ktap_parsing() {
        let log: Vec<String> =
            "[    3.1] KTAP version 1\n[    3.1] 1..2\n[    3.2]     # Subtest: rust_drm_kms_damage\n\
             [    3.2]     1..2\n[    3.3]     ok 1 rect_geometry\n[    3.3]     not ok 2 empty\n\
             [    3.3] # rust_drm_kms_damage: pass:1 fail:1\n[    3.3] not ok 1 rust_drm_kms_damage\n"
                .lines()
                .map(str::to_string)
                .collect();
        assert_eq!(
            ktap_cases(&log),
            vec![
                ("rust_drm_kms_damage.rect_geometry".to_string(), true),
                ("rust_drm_kms_damage.empty".to_string(), false)
            ]
        );
    }
}
