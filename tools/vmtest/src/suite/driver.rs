// SPDX-License-Identifier: GPL-2.0
//! The suites of one driver on one device: the full driver suite, no EDID, odd geometry and
//! the built-in kernel.

use std::time::Duration;

use anyhow::anyhow;

use super::damage::check_damage;
use super::display::{
    check_all_modes, check_badinput, check_fbcon, check_flips, check_formats, check_no_plane,
    check_off_on, check_pattern,
};
use super::guest::{
    card_info, debugfs_state, load_and_map_type, new_mapping, parse_info, pci_name, state_value,
    RBOCHS_STATE,
};
use super::lifecycle::{
    check_cache_param, check_panic, check_rebind_cycles, check_shutdown, check_suspend_resume,
    check_unbind_while_mapped,
};
use super::report::{check_kernel_log, check_kmemleak, clear_kmemleak, Report};
use super::{boot_and_load, boot_suite};
use super::{Driver, XRES, YRES};
use crate::vm::{Vm, VmConfig};
use crate::Result;

/// The driver suite: loads `drv` on one device variant and checks what reaches the screen.
pub fn driver_suite(cfg: &VmConfig, drv: &Driver, device: &str, rep: &mut Report) -> Result<()> {
    let name = format!("{}-{device}", drv.suite_name);
    let Some(mut vm) = boot_suite(cfg, &name, format!("{device},xres={XRES},yres={YRES}"), rep)
    else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    clear_kmemleak(&mut vm);

    let mapped = load_and_map_type(&mut vm, drv, "");
    rep.record(
        "vram-memtype",
        mapped.and_then(|g| {
            let msg = format!("VRAM mapped {:#x}-{:#x} as {}", g.start, g.end, g.memtype);
            println!("INFO {msg}");
            if g.memtype == drv.vram_memtype {
                Ok(())
            } else {
                Err(anyhow!("{msg}, want {}", drv.vram_memtype))
            }
        }),
    );

    let info = card_info(&mut vm);
    rep.record(
        "card",
        info.as_ref().map_err(|e| anyhow!("{e:#}")).and_then(|ci| {
            if ci.driver != drv.drm_name {
                return Err(anyhow!(
                    "DRM driver is '{}', want '{}'",
                    ci.driver,
                    drv.drm_name
                ));
            }
            if !ci.connected {
                return Err(anyhow!("connector is not connected"));
            }
            Ok(())
        }),
    );
    rep.record(
        "edid-modes",
        info.as_ref().map_err(|e| anyhow!("{e:#}")).and_then(|ci| {
            if ci.preferred != Some((XRES, YRES)) {
                return Err(anyhow!(
                    "preferred mode {:?}, want {XRES}x{YRES} from EDID; modes {:?}",
                    ci.preferred,
                    ci.modes
                ));
            }
            Ok(())
        }),
    );

    rep.record(
        "pattern-1024x768",
        check_pattern(&mut vm, &out, (1024, 768), 1),
    );
    rep.record(
        "pattern-edid-mode",
        check_pattern(&mut vm, &out, (XRES, YRES), 2),
    );
    let formats: &[&str] = if drv.alpha_formats {
        &["xrgb8888", "argb8888", "bgrx8888", "bgra8888"]
    } else {
        &["xrgb8888", "bgrx8888"]
    };
    rep.record(
        "formats",
        check_formats(&mut vm, &out, (1024, 768), formats),
    );
    let counters = drv.debugfs_counters;
    rep.record(
        "damage-atomic",
        check_damage(&mut vm, &out, "atomic", (100, 50, 64, 64), counters),
    );
    rep.record(
        "damage-dirtyfb",
        check_damage(&mut vm, &out, "dirtyfb", (300, 200, 64, 64), counters),
    );
    if let Some(want) = drv.buffering {
        rep.record("buffering", check_buffering(&mut vm, want));
    }
    rep.record("page-flip-events", check_flips(&mut vm, 12, 60));
    if device == "VGA" {
        rep.record("all-modes", check_all_modes(&mut vm, &out));
    }
    check_badinput(&mut vm, rep, drv.refuses_unpaceable);
    rep.record(
        "unbind-while-mapped",
        check_unbind_while_mapped(&mut vm, &out, drv),
    );
    rep.record("rebind-cycles", check_rebind_cycles(&mut vm, &out, drv, 3));
    if drv.vram_cache_param {
        rep.record("vram-cache-param", check_cache_param(&mut vm, &out, drv));
    }
    if drv.crtc_off_keeps_fb {
        rep.record("crtc-off-fb-kept", check_off_on(&mut vm, &out));
    }
    if drv.lit_without_plane {
        rep.record("no-plane-lit", check_no_plane(&mut vm, &out, "lit"));
        rep.record("no-plane-modeset", check_no_plane(&mut vm, &out, "modeset"));
        rep.record("plane-back-whole", check_no_plane(&mut vm, &out, "back"));
    }
    rep.record("suspend-resume", check_suspend_resume(&mut vm, &out, drv));
    rep.record("drm-panic", check_panic(&mut vm, &out));
    rep.record("kmemleak", check_kmemleak(&mut vm));
    rep.record("kernel-log", check_kernel_log(&mut vm));
    // QEMU's bochs-display keeps showing its last frame when the output is disabled, so only
    // std-VGA (which falls back to text mode) shows from the host that shutdown turned it off.
    if device == "VGA" {
        rep.record("shutdown", check_shutdown(&mut vm, &out));
    }
    vm.shutdown()
}

/// Without EDID and with 4 MiB of video memory: the standard modes that fit, 1024x768 preferred.
pub fn noedid_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let name = format!("{}-noedid", drv.suite_name);
    let Some(mut vm) = boot_suite(cfg, &name, "VGA,edid=off,vgamem_mb=4".into(), rep) else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    rep.record(
        "load",
        vm.ok(&format!("modprobe {}", drv.module)).map(|_| ()),
    );
    let info = card_info(&mut vm);
    rep.record(
        "modes-fit-vram",
        info.and_then(|ci| {
            if ci.preferred != Some((1024, 768)) {
                return Err(anyhow!(
                    "preferred {:?}, want 1024x768 (defx/defy)",
                    ci.preferred
                ));
            }
            let big: Vec<_> = ci
                .modes
                .iter()
                .filter(|(w, h)| w * h * 4 > 4 << 20)
                .collect();
            if !big.is_empty() || ci.modes.len() < 3 {
                return Err(anyhow!("modes {:?}: {big:?} do not fit 4 MiB", ci.modes));
            }
            Ok(())
        }),
    );
    rep.record(
        "pattern-1024x768",
        check_pattern(&mut vm, &out, (1024, 768), 31),
    );
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()
}

/// Odd geometry and tiny video memory: an EDID preferring a mode whose width is not a multiple
/// of 8 (1001x667, which the device would show 1000 wide) gets a 1000x667 mode preferred in
/// its place, shown pixel-exact; with 1 MiB of video memory the driver offers only modes that
/// fit, or refuses with a log line.
pub fn odd_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let name = format!("{}-odd", drv.suite_name);
    if let Some(mut vm) = boot_and_load(cfg, &name, "VGA,xres=1001,yres=667".into(), drv, rep) {
        let out = cfg.workdir.join(&name);
        let info = card_info(&mut vm);
        // QEMU rounds the width down to a multiple of 8, so a 1001 pixel wide mode shows 1000
        // wide: a driver must not offer it.
        match info {
            Ok(ci) => match ci.preferred {
                Some((w, _)) if w % 8 != 0 && !drv.narrows_odd_width => rep.skip(
                    "odd-edid-mode",
                    &format!("C bochs offers a {w} pixel wide mode, which the device cannot show"),
                ),
                Some(p) if ci.modes.iter().all(|m| m.0 % 8 == 0) => {
                    // rbochs offers the EDID's preferred mode narrowed to what the device
                    // shows, 1000x667, in its place; it must show pixel-exact.
                    let r = match p {
                        (1000, 667) => check_pattern(&mut vm, &out, p, 61),
                        _ => Err(anyhow!("preferred mode {p:?}, want (1000, 667)")),
                    };
                    rep.record("odd-edid-mode", r);
                }
                _ => {
                    let e = format!(
                        "modes {:?}, preferred {:?}: widths must be multiples of 8, and one \
                         mode preferred",
                        ci.modes, ci.preferred
                    );
                    rep.record("odd-edid-mode", Err(anyhow!(e)));
                }
            },
            Err(e) => {
                rep.record("odd-edid-mode", Err(e));
            }
        }
        rep.record("kernel-log", check_kernel_log(&mut vm));
        vm.shutdown()?;
    }
    let name = format!("{}-tiny", drv.suite_name);
    let Some(mut vm) = boot_suite(cfg, &name, "VGA,vgamem_mb=1".into(), rep) else {
        return Ok(());
    };
    let _ = vm.run(&format!("modprobe {}", drv.module), Duration::from_secs(60));
    let r = if vm.ok("ls /dev/dri/card* > /dev/null 2>&1").is_ok() {
        vm.ok("rbguest info")
            .and_then(|l| parse_info(&l))
            .and_then(|ci| {
                let big: Vec<_> = ci
                    .modes
                    .iter()
                    .filter(|(w, h)| w * h * 4 > 1 << 20)
                    .collect();
                println!("INFO 1 MiB of video memory: modes {:?}", ci.modes);
                if big.is_empty() {
                    Ok(())
                } else {
                    Err(anyhow!("modes {big:?} do not fit 1 MiB"))
                }
            })
    } else {
        vm.ok("dmesg | tail -n 20").and_then(|log| {
            println!("INFO 1 MiB of video memory: no card; {}", log.join(" | "));
            match log
                .iter()
                .any(|l| l.contains(drv.pci_driver) || l.contains("bochs"))
            {
                true => Ok(()),
                false => Err(anyhow!("no card and no log line saying why")),
            }
        })
    };
    rep.record("tiny-vram", r);
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()
}

/// rbochs built in: it drives fbcon from boot, and rebinding maps VRAM write-back.
pub fn builtin_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let Some(mut vm) = boot_suite(cfg, "builtin", "VGA".into(), rep) else {
        return Ok(());
    };
    let out = cfg.workdir.join("builtin");
    rep.record(
        "bound-at-boot",
        vm.ok("readlink /sys/bus/pci/devices/*/driver | grep -q rbochs")
            .map(|_| ()),
    );
    rep.record("fbcon-visible", check_fbcon(&mut vm, &out));
    let remap = pci_name(&mut vm).and_then(|dev| {
        let d = drv.sysfs_dir();
        vm.ok(&format!("echo {dev} > {d}/unbind"))?;
        new_mapping(&mut vm, &format!("echo {dev} > {d}/bind"))
    });
    rep.record(
        "vram-memtype",
        remap.and_then(|g| {
            println!("INFO built-in rebind mapped VRAM as {}", g.memtype);
            if g.memtype == drv.vram_memtype {
                Ok(())
            } else {
                Err(anyhow!(
                    "VRAM mapped as {}, want {}",
                    g.memtype,
                    drv.vram_memtype
                ))
            }
        }),
    );
    rep.record(
        "pattern-1024x768",
        check_pattern(&mut vm, &out, (1024, 768), 41),
    );
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()?;

    // `nomodeset` leaves the display to firmware drivers (`drm_module_pci_driver()`'s rule; no
    // parameter overrides it): the module does not register its PCI driver, and says why.
    let mut c = cfg.clone();
    c.append = format!("{} nomodeset", c.append);
    if let Some(mut vm) = boot_suite(&c, "builtin-nomodeset", "VGA".into(), rep) {
        let r = vm
            .run(
                "readlink /sys/bus/pci/devices/*/driver | grep -q rbochs",
                Duration::from_secs(60),
            )
            .and_then(|(rc, _)| match rc {
                0 => Err(anyhow!("with nomodeset rbochs bound")),
                _ => vm
                    .ok("dmesg | grep -q 'rbochs: disabled by nomodeset'")
                    .map(|_| ())
                    .map_err(|_| anyhow!("not bound, but no log line says why")),
            });
        rep.record("builtin-nomodeset", r);
        vm.shutdown()?;
    }
    Ok(())
}

/// The driver drew the last picture (the damage test's, 1024x768) into `want` buffering
/// (`double`: two frames in video memory, flipping between them), and flipped if so.
fn check_buffering(vm: &mut Vm, want: &str) -> Result<()> {
    // The driver's files are the DRM device's, nowhere else.
    vm.ok("! ls -d /sys/kernel/debug/rbochs* 2>/dev/null")
        .map_err(|_| anyhow!("rbochs has debugfs files outside its DRM directory"))?;
    let st = debugfs_state(vm, RBOCHS_STATE)?;
    let got = st
        .iter()
        .find(|(k, _)| k == "buffering")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| anyhow!("no buffering line in the driver's state: {st:?}"))?;
    let flips = state_value(&st, "flips")?;
    println!("INFO buffering: {got}, {flips} flips");
    match (got == want, want, flips) {
        (false, ..) => Err(anyhow!("buffering is {got}, want {want}")),
        (true, "double", 0) => Err(anyhow!("double-buffered, but no flip")),
        (true, "single", n) if n > 0 => Err(anyhow!("single-buffered, but {n} flips")),
        _ => Ok(()),
    }
}
