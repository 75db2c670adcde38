// SPDX-License-Identifier: GPL-2.0
//! The Rust KMS sample, a virtual display on a faux device, driven like a real one.

use anyhow::anyhow;

use super::boot_suite;
use super::damage::check_virtual_damage;
use super::display::{check_badinput, check_flips};
use super::guest::{card_info, debugfs_state, state_value, wait_guest, FBCON_BOUND, SAMPLE_STATE};
use super::report::{check_kernel_log, check_kmemleak, clear_kmemleak, Report};
use crate::vm::VmConfig;
use crate::Result;

/// The Rust KMS sample (a virtual display on a faux device), driven like a real one.
pub fn sample_suite(cfg: &VmConfig, rep: &mut Report) -> Result<()> {
    let Some(mut vm) = boot_suite(cfg, "sample", "VGA".into(), rep) else {
        return Ok(());
    };
    clear_kmemleak(&mut vm);
    rep.record(
        "load",
        vm.ok("modprobe rust_drm_kms")
            .and_then(|_| wait_guest(&mut vm, "test -c /dev/dri/card0")),
    );
    let info = card_info(&mut vm);
    rep.record(
        "modes",
        info.and_then(|ci| {
            if ci.driver != "rust_drm_kms" || !ci.connected {
                return Err(anyhow!(
                    "driver '{}', connected {}",
                    ci.driver,
                    ci.connected
                ));
            }
            if ci.preferred != Some((1024, 768)) {
                return Err(anyhow!("preferred {:?}, want 1024x768", ci.preferred));
            }
            match ci.modes.iter().find(|(w, h)| *w > 1920 || *h > 1080) {
                Some(m) => Err(anyhow!("mode {m:?} is larger than the display's 1920x1080")),
                None if ci.modes.len() < 3 => Err(anyhow!("only modes {:?}", ci.modes)),
                None => Ok(()),
            }
        }),
    );
    rep.record(
        "fbdev",
        wait_guest(&mut vm, FBCON_BOUND).and_then(|_| {
            let st = debugfs_state(&mut vm, SAMPLE_STATE)?;
            match state_value(&st, "commits")? {
                0 => Err(anyhow!("fbcon is bound but nothing was committed")),
                _ => Ok(()),
            }
        }),
    );
    rep.record(
        "damage-atomic",
        check_virtual_damage(&mut vm, "atomic", (100, 50, 64, 64)),
    );
    rep.record(
        "damage-dirtyfb",
        check_virtual_damage(&mut vm, "dirtyfb", (300, 200, 64, 64)),
    );
    rep.record("page-flip-events", check_flips(&mut vm, 12, 60));
    check_badinput(&mut vm, rep, true);
    rep.record(
        "reload",
        vm.ok("rmmod rust_drm_kms && test ! -e /dev/dri/card0 && modprobe rust_drm_kms")
            .and_then(|_| wait_guest(&mut vm, FBCON_BOUND)),
    );
    rep.record("kmemleak", check_kmemleak(&mut vm));
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()
}
