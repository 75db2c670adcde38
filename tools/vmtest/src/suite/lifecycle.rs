// SPDX-License-Identifier: GPL-2.0
//! A driver's life cycle under a client: unbind, reload, module parameters, suspend, panic
//! and shutdown.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use super::display::check_pattern;
use super::guest::{
    debugfs_state, holder_exit, load_and_map_type, pci_name, start_holder, state_value,
    stop_holder, wait_guest, FBCON_BOUND, RBOCHS_STATE,
};
use super::{Driver, WRITE_COMBINE};
use crate::image::Image;
use crate::pattern;
use crate::vm::{indent, Vm};
use crate::Result;

/// Unbinds the device while a client holds it open with a mapped buffer, then binds again.
pub fn check_unbind_while_mapped(vm: &mut Vm, out: &Path, drv: &Driver) -> Result<()> {
    let dev = pci_name(vm)?;
    let d = drv.sysfs_dir();
    start_holder(vm, 21, 3)?;
    vm.ok(&format!("echo {dev} > {d}/unbind"))?;
    holder_exit(vm)?;
    vm.ok(&format!("echo {dev} > {d}/bind"))?;
    wait_guest(vm, "test -c /dev/dri/card0")?;
    check_pattern(vm, out, (1024, 768), 22)
}

/// Unbinds and binds, then unloads and reloads the module, `n` times each, with fbcon bound.
pub fn check_rebind_cycles(vm: &mut Vm, out: &Path, drv: &Driver, n: u32) -> Result<()> {
    let dev = pci_name(vm)?;
    let d = drv.sysfs_dir();
    for _ in 0..n {
        vm.ok(&format!("echo {dev} > {d}/unbind && echo {dev} > {d}/bind"))?;
        wait_guest(vm, FBCON_BOUND)?;
    }
    for _ in 0..n {
        vm.ok(&format!("rmmod {0} && modprobe {0}", drv.module))?;
        wait_guest(vm, FBCON_BOUND)?;
    }
    check_pattern(vm, out, (1024, 768), 23)
}

/// The `vram_cache` parameter of rbochs: `wc` maps the video memory write-combining (and the
/// screen still works), a bad keyword is refused with a message, and the default is restored.
pub fn check_cache_param(vm: &mut Vm, out: &Path, drv: &Driver) -> Result<()> {
    vm.ok(&format!("rmmod {}", drv.module))?;
    let (rc, _) = vm.run(
        &format!("modprobe {} vram_cache=writethrough", drv.module),
        Duration::from_secs(60),
    )?;
    if rc == 0 {
        return Err(anyhow!("vram_cache=writethrough was accepted"));
    }
    vm.ok("dmesg | grep -q 'vram_cache must be auto, wb or wc'")
        .map_err(|_| anyhow!("no log line names the valid vram_cache values"))?;

    let wc = load_and_map_type(vm, drv, "vram_cache=wc")?;
    if wc.memtype != WRITE_COMBINE {
        return Err(anyhow!("vram_cache=wc mapped the VRAM as {}", wc.memtype));
    }
    let st = debugfs_state(vm, RBOCHS_STATE)?;
    if !st
        .iter()
        .any(|(k, v)| k == "vram_cache" && v == "write-combine")
    {
        return Err(anyhow!("debugfs does not report write-combine: {st:?}"));
    }
    check_pattern(vm, out, (1024, 768), 24)?;
    vm.ok(&format!("rmmod {}", drv.module))?;

    let wb = load_and_map_type(vm, drv, "")?;
    if wb.memtype != drv.vram_memtype {
        return Err(anyhow!("the default mapped the VRAM as {}", wb.memtype));
    }
    Ok(())
}

/// System suspend and resume (s2idle with `pm_test=devices`: the drivers' suspend and resume
/// hooks run, the platform stays up): the client's picture is back afterwards, and rbochs
/// shows that the mode-config helpers turned the pipeline off and on again.
pub fn check_suspend_resume(vm: &mut Vm, out: &Path, drv: &Driver) -> Result<()> {
    let seed = 25;
    start_holder(vm, seed, 60)?;
    let res = (|| {
        let state = |vm: &mut Vm| -> Result<Option<(u64, u64)>> {
            if !drv.debugfs_counters {
                return Ok(None);
            }
            let st = debugfs_state(vm, RBOCHS_STATE)?;
            Ok(Some((
                state_value(&st, "commits")?,
                state_value(&st, "last_bytes")?,
            )))
        };
        let before = state(vm)?;
        vm.ok("dmesg -c > /dev/null; echo devices > /sys/power/pm_test && echo freeze > /sys/power/state")
            .map_err(|e| anyhow!("suspend/resume cycle failed: {e}"))?;
        let log = vm.ok("dmesg")?;
        if !log.iter().any(|l| l.contains("PM: suspend exit")) {
            return Err(anyhow!(
                "no suspend/resume in the kernel log:\n{}",
                indent(&log)
            ));
        }
        if let (Some((b, _)), Some((a, last))) = (before, state(vm)?) {
            // Suspend turns the plane off; resume restores it with a full-frame copy.
            if a <= b || last != 1024 * 768 * 4 {
                return Err(anyhow!(
                    "{} plane updates across suspend/resume, the last copied {last} bytes; \
                     want a full 1024x768 frame",
                    a - b
                ));
            }
        }
        let shot = out.join("resume.png");
        vm.screendump(&shot)?;
        Image::load(&shot)?
            .compare(|x, y| pattern::pixel(seed, x, y))
            .map_err(|e| anyhow!("after resume {}: {e}", shot.display()))
    })();
    stop_holder(vm);
    res
}

/// drm_panic: with `CONFIG_DRM_PANIC_DEBUG`, debugfs makes the panic handler draw its screen
/// (white on black by default) into the plane's scanout buffer, as a real panic would, through
/// the driver's `get_scanout_buffer`. The screen must then show it instead of the client's
/// picture.
pub fn check_panic(vm: &mut Vm, out: &Path) -> Result<()> {
    let seed = 27;
    start_holder(vm, seed, 60)?;
    let res = (|| {
        vm.ok("echo 1 > $(ls /sys/kernel/debug/dri/*/drm_panic_plane_0 | head -n1)")?;
        let shot = out.join("panic.png");
        vm.screendump(&shot)?;
        let img = Image::load(&shot)?;
        let count = |c: u32| img.pixels.iter().filter(|&&p| p & 0xff_ffff == c).count();
        let (black, white, all) = (count(0), count(0xff_ffff), img.pixels.len());
        println!("INFO panic screen: {black} black and {white} white of {all} pixels");
        if black * 10 < all * 8 || white == 0 {
            return Err(anyhow!(
                "{}: no panic screen ({black} black, {white} white of {all} pixels)",
                shot.display()
            ));
        }
        Ok(())
    })();
    stop_holder(vm);
    res
}

/// System shutdown turns the display off: halt the guest while a client shows a picture, and
/// the screen no longer shows it. Ends the guest.
pub fn check_shutdown(vm: &mut Vm, out: &Path) -> Result<()> {
    let seed = 26;
    start_holder(vm, seed, 60)?;
    let shot = out.join("before-halt.png");
    vm.screendump(&shot)?;
    Image::load(&shot)?
        .compare(|x, y| pattern::pixel(seed, x, y))
        .map_err(|e| anyhow!("before halt {}: {e}", shot.display()))?;
    vm.send("halt -f")?;
    vm.wait_for(|l| l.contains("System halted"), Duration::from_secs(60))?;
    let shot = out.join("after-halt.png");
    vm.screendump(&shot)?;
    let img = Image::load(&shot)?;
    if (img.width, img.height) == (1024, 768)
        && img.compare(|x, y| pattern::pixel(seed, x, y)).is_ok()
    {
        return Err(anyhow!(
            "{}: the picture is still shown after shutdown",
            shot.display()
        ));
    }
    Ok(())
}
