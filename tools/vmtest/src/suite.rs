// SPDX-License-Identifier: GPL-2.0
//! The in-guest test suites: each boots a guest with one display device and
//! checks a driver through the guest's KMS interface and the host's view of
//! the emulated screen.

use anyhow::anyhow;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::image::Image;
use crate::ptdump;
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;

#[path = "../../common/pattern.rs"]
mod pattern;

/// Collects outcomes and writes one line per test to the results file.
pub struct Report {
    prefix: String,
    pub lines: Vec<String>,
    pub failed: usize,
}

impl Report {
    pub fn new(prefix: &str) -> Report {
        Report {
            prefix: prefix.to_string(),
            lines: Vec::new(),
            failed: 0,
        }
    }

    /// Records a test that did not run, or whose failure is the reference driver's own.
    pub fn skip(&mut self, name: &str, why: &str) {
        let line = format!("SKIP {}.{name}: {why}", self.prefix);
        println!("{line}");
        self.lines.push(line);
    }

    pub fn record(&mut self, name: &str, r: Result<()>) -> bool {
        let full = format!("{}.{name}", self.prefix);
        let line = match &r {
            Ok(()) => format!("PASS {full}"),
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
];

/// Worrying kernel log lines since the last call.
pub fn kernel_log_problems(vm: &mut Vm) -> Result<Vec<String>> {
    let out = vm.ok("dmesg -c")?;
    Ok(out
        .into_iter()
        .filter(|l| BAD_LOG.iter().any(|p| l.contains(p)))
        .collect())
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

/// What a driver-under-test looks like from the guest.
pub struct Driver {
    /// PCI driver name in sysfs.
    pub pci_driver: &'static str,
    /// Module name for modprobe/rmmod.
    pub module: &'static str,
    /// Name DRM reports in DRM_IOCTL_VERSION.
    pub drm_name: &'static str,
    /// Expected memory type of the VRAM mapping on this architecture.
    pub vram_memtype: &'static str,
}

/// Linux's C bochs driver: the reference.
pub const C_BOCHS: Driver = Driver {
    pci_driver: "bochs-drm",
    module: "bochs",
    drm_name: "bochs-drm",
    vram_memtype: "MEM/NORMAL-NC",
};

/// Our driver: the VRAM is mapped write-back (cached) on arm64.
pub const RBOCHS: Driver = Driver {
    pci_driver: "rbochs",
    module: "rbochs",
    drm_name: "rbochs",
    vram_memtype: "MEM/NORMAL",
};

impl Driver {
    fn driver_dir(&self) -> &'static str {
        self.pci_driver
    }
}

/// Parsed `rbguest info`.
#[derive(Debug, Default)]
pub struct CardInfo {
    pub driver: String,
    pub connected: bool,
    pub modes: Vec<(u32, u32)>,
    pub preferred: Option<(u32, u32)>,
}

pub fn parse_info(lines: &[String]) -> Result<CardInfo> {
    let mut ci = CardInfo::default();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["driver", name] => ci.driver = name.to_string(),
            ["connector", _, _, state] => ci.connected |= *state == "Connected",
            ["mode", size, _, rest @ ..] => {
                let (a, b) = size
                    .split_once('x')
                    .ok_or_else(|| anyhow!("bad mode line '{l}'"))?;
                let m = (
                    a.parse().map_err(|_| anyhow!("bad mode '{l}'"))?,
                    b.parse().map_err(|_| anyhow!("bad mode '{l}'"))?,
                );
                ci.modes.push(m);
                if rest.contains(&"preferred") {
                    ci.preferred.get_or_insert(m);
                }
            }
            _ => {}
        }
    }
    if ci.driver.is_empty() {
        return Err(anyhow!(
            "no driver line in rbguest info output:\n{}",
            indent(lines)
        ));
    }
    Ok(ci)
}

/// PCI BAR sizes of the first bochs-class device (1234:1111).
pub fn vram_size(vm: &mut Vm) -> Result<u64> {
    let out = vm.ok(
        "for d in /sys/bus/pci/devices/*; do \
         [ \"$(cat $d/vendor):$(cat $d/device)\" = 0x1234:0x1111 ] && head -n1 $d/resource && break; done",
    )?;
    let line = out
        .first()
        .ok_or_else(|| anyhow!("no 1234:1111 device in /sys/bus/pci"))?;
    let w: Vec<u64> = line
        .split_whitespace()
        .map(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| anyhow!("bad resource line '{line}': {e}"))?;
    match w.as_slice() {
        [start, end, ..] if end > start => Ok(end - start + 1),
        _ => Err(anyhow!("BAR0 not assigned: '{line}'")),
    }
}

/// Loads `drv` and reports the memory type of the VRAM mapping it creates.
pub fn load_and_map_type(vm: &mut Vm, drv: &Driver) -> Result<ptdump::Region> {
    load_with_args_and_map_type(vm, drv, "")
}

/// [`load_and_map_type`] with module parameters.
pub fn load_with_args_and_map_type(
    vm: &mut Vm,
    drv: &Driver,
    args: &str,
) -> Result<ptdump::Region> {
    let vram = vram_size(vm)?;
    vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.before")?;
    vm.ok(&format!("modprobe {} {args}", drv.module))?;
    vm.ok("test -c /dev/dri/card0")?;
    let new = vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.after; grep -vxFf /tmp/pt.before /tmp/pt.after; true")?;
    ptdump::find_region(&ptdump::parse(&new.join("\n")), vram)
}

/// Scans out a pattern at `size` and compares the host's screenshot with it.
pub fn check_pattern(vm: &mut Vm, out: &Path, size: (u32, u32), seed: u32) -> Result<()> {
    show_and_compare(vm, out, size, seed, None)
}

/// Scans out a pattern at `size` in each framebuffer format of `formats` (`rbguest show`'s
/// names) and compares the screen with it; names the formats that failed.
pub fn check_formats(vm: &mut Vm, out: &Path, size: (u32, u32), formats: &[&str]) -> Result<()> {
    let mut failed = Vec::new();
    for (seed, f) in (30..).zip(formats) {
        if let Err(e) = show_and_compare(vm, out, size, seed, Some(f)) {
            failed.push(format!("{f}: {e}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(failed.join("\n")))
    }
}

fn show_and_compare(
    vm: &mut Vm,
    out: &Path,
    size: (u32, u32),
    seed: u32,
    format: Option<&str>,
) -> Result<()> {
    let (w, h) = size;
    let (cmd, shot) = match format {
        None => (
            format!("rbguest show {w}x{h} {seed}"),
            format!("pattern-{w}x{h}-{seed}.png"),
        ),
        Some(f) => (
            format!("rbguest show {w}x{h} {seed} {f}"),
            format!("pattern-{w}x{h}-{seed}-{f}.png"),
        ),
    };
    screen_shows(vm, &cmd, &out.join(shot), size, |x, y| {
        pattern::pixel(seed, x, y)
    })
}

/// Runs the `rbguest` command `cmd`, which prints `@@READY` once the screen should show
/// `expect` (the colour of each pixel) at `size`, compares the screenshot (saved to `shot`)
/// with it, then lets the command finish.
fn screen_shows(
    vm: &mut Vm,
    cmd: &str,
    shot: &Path,
    size: (u32, u32),
    expect: impl Fn(u32, u32) -> u32,
) -> Result<()> {
    let n = vm.start(cmd)?;
    let ready = vm.wait_for(
        |l| l.contains("@@READY") || l.contains("rbguest: error"),
        Duration::from_secs(60),
    );
    let res = ready.and_then(|lines| {
        if lines.last().is_some_and(|l| l.contains("rbguest: error")) {
            return Err(anyhow!(lines.join("\n")));
        }
        vm.screendump(shot)?;
        let img = Image::load(shot)?;
        if (img.width, img.height) != size {
            return Err(anyhow!(
                "screen is {}x{}, want {}x{}",
                img.width,
                img.height,
                size.0,
                size.1
            ));
        }
        img.compare(expect)
            .map_err(|e| anyhow!("{}: {e}", shot.display()))
    });
    vm.send("")?;
    let (rc, lines) = vm.finish(n, Duration::from_secs(60))?;
    res?;
    if rc != 0 {
        return Err(anyhow!("{cmd} exited {rc}:\n{}", indent(&lines)));
    }
    Ok(())
}

/// rbochs lets an atomic commit turn the CRTC off and leave the framebuffer on the plane
/// (C bochs refuses it with `EINVAL`, as the atomic helpers do by default). The client then
/// draws a new pattern into that framebuffer, reporting no damage, and turns the CRTC on
/// again: the screen must show the new pattern whole, so the driver copies the plane's
/// framebuffer in full when its CRTC comes back.
pub fn check_off_on(vm: &mut Vm, out: &Path) -> Result<()> {
    screen_shows(
        vm,
        "rbguest offon 1024x768 43 44",
        &out.join("off-on.png"),
        (1024, 768),
        |x, y| pattern::pixel(44, x, y),
    )
}

/// rbochs lets a CRTC be lit with no plane (C bochs refuses it with `EINVAL`, as the atomic
/// helpers do by default), and shows black then, not the last image: `how` is `lit` (the
/// plane is taken off a lit CRTC) or `modeset` (the CRTC is turned on again alone). With
/// `back`, the plane comes back on the lit CRTC with one damaged pixel, and the screen must
/// show its framebuffer whole, not that pixel over black.
pub fn check_no_plane(vm: &mut Vm, out: &Path, how: &str) -> Result<()> {
    let seed = 45;
    screen_shows(
        vm,
        &format!("rbguest noplane 1024x768 {seed} {how}"),
        &out.join(format!("no-plane-{how}.png")),
        (1024, 768),
        |x, y| match how {
            "back" => pattern::pixel(seed, x, y),
            _ => 0,
        },
    )
}

/// The screen size and EDID modes a suite gives QEMU.
pub const XRES: u32 = 1112;
pub const YRES: u32 = 834;

/// A rectangle `(x, y, w, h)`.
pub type Rect = (u32, u32, u32, u32);

fn inside(r: Rect, x: u32, y: u32) -> bool {
    x >= r.0 && x < r.0 + r.2 && y >= r.1 && y < r.1 + r.3
}

/// The driver's debugfs state as `key: value` pairs (rbochs only).
pub fn debugfs_state(vm: &mut Vm) -> Result<Vec<(String, String)>> {
    let out = vm.ok("cat /sys/kernel/debug/rbochs-*/state")?;
    Ok(out
        .iter()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

fn state_value(state: &[(String, String)], key: &str) -> Result<u64> {
    state
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| anyhow!("debugfs state has no numeric '{key}': {state:?}"))
}

/// Shows pattern `a`, redraws the whole buffer with `b` but reports only `rect` as damaged
/// (through `how`: `atomic` or `dirtyfb`), and checks the screen: `b` inside the rectangle, `a`
/// everywhere else. With `counters`, also checks the driver copied just the rectangle.
pub fn check_damage(vm: &mut Vm, out: &Path, how: &str, rect: Rect, counters: bool) -> Result<()> {
    let shot = out.join(format!("damage-{how}.png"));
    with_damage(vm, how, rect, |vm, state| {
        vm.screendump(&shot)?;
        let img = Image::load(&shot)?;
        img.compare(|x, y| pattern::pixel(damaged_seed(rect, x, y), x, y))
            .map_err(|e| anyhow!("{}: {e}", shot.display()))?;
        if counters {
            check_copied(state, rect)?;
        }
        Ok(())
    })
}

/// Seeds of the damage test: `DAMAGE_A` shown first, `DAMAGE_B` drawn everywhere next.
const DAMAGE_A: u32 = 11;
const DAMAGE_B: u32 = 12;

/// The pattern a pixel should show after the damage test: the new one only where damaged.
fn damaged_seed(rect: Rect, x: u32, y: u32) -> u32 {
    if inside(rect, x, y) {
        DAMAGE_B
    } else {
        DAMAGE_A
    }
}

/// The driver copied exactly the damaged rectangle in the last update.
fn check_copied(state: &[(String, String)], rect: Rect) -> Result<()> {
    let last = state_value(state, "last_bytes")?;
    let want = u64::from(rect.2 * rect.3 * 4);
    if last != want {
        return Err(anyhow!(
            "the damaged update copied {last} bytes, want {want}"
        ));
    }
    Ok(())
}

/// Runs the guest's damage program at 1024x768 and calls `check` while it holds the update,
/// with the driver state it printed (`STATE key: value` lines, empty for C bochs).
fn with_damage(
    vm: &mut Vm,
    how: &str,
    rect: Rect,
    check: impl FnOnce(&mut Vm, &[(String, String)]) -> Result<()>,
) -> Result<()> {
    let n = vm.start(&format!(
        "rbguest damage 1024x768 {DAMAGE_A} {DAMAGE_B} {} {} {} {} {how}",
        rect.0, rect.1, rect.2, rect.3
    ))?;
    let ready = vm.wait_for(
        |l| l.contains("@@READY") || l.contains("rbguest: error"),
        Duration::from_secs(60),
    );
    let res = ready.and_then(|lines| {
        if lines.last().is_some_and(|l| l.contains("rbguest: error")) {
            return Err(anyhow!(lines.join("\n")));
        }
        // The guest printed the driver's state while it still holds the update.
        let state: Vec<_> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("STATE "))
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        check(vm, &state)
    });
    vm.send("")?;
    let (rc, lines) = vm.finish(n, Duration::from_secs(60))?;
    res?;
    if rc != 0 {
        return Err(anyhow!("rbguest damage exited {rc}:\n{}", indent(&lines)));
    }
    Ok(())
}

/// 64-bit FNV-1a, the checksum the KMS sample reports of its image.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The checksum of a `w`x`h` XRGB8888 image whose pixel (x, y) comes from pattern `seed(x, y)`.
fn image_checksum(w: u32, h: u32, seed: impl Fn(u32, u32) -> u32) -> u64 {
    let mut bytes = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        for x in 0..w {
            bytes.extend_from_slice(&pattern::pixel(seed(x, y), x, y).to_le_bytes());
        }
    }
    fnv1a(&bytes)
}

/// Damage on the virtual display of the KMS sample: the image it holds afterwards (by its
/// checksum) is the old pattern with just the damaged rectangle of the new one.
pub fn check_virtual_damage(vm: &mut Vm, how: &str, rect: Rect) -> Result<()> {
    with_damage(vm, how, rect, |_, state| {
        check_copied(state, rect)?;
        let got = state
            .iter()
            .find(|(k, _)| k == "checksum")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| anyhow!("no checksum in the sample's state: {state:?}"))?;
        let want = format!(
            "{:016x}",
            image_checksum(1024, 768, |x, y| damaged_seed(rect, x, y))
        );
        let all_new = format!("{:016x}", image_checksum(1024, 768, |_, _| DAMAGE_B));
        if got == all_new {
            return Err(anyhow!(
                "the display took the whole new frame, not just the damage"
            ));
        }
        if got != want {
            return Err(anyhow!("image checksum {got}, want {want}"));
        }
        Ok(())
    })
}

/// Page flips with events: `n` events, one per flip, in rising vblank sequence, no faster than
/// the mode's refresh rate allows (the software vblank timer paces them).
pub fn check_flips(vm: &mut Vm, n: u32, refresh_hz: u32) -> Result<()> {
    let out = vm.ok(&format!("rbguest flip 1024x768 {n}"))?;
    let events: Vec<(u64, f64)> = out
        .iter()
        .filter_map(|l| l.strip_prefix("FLIP "))
        .filter_map(|l| {
            let (seq, t) = l.split_once(' ')?;
            Some((seq.parse().ok()?, t.parse().ok()?))
        })
        .collect();
    if events.len() != n as usize {
        return Err(anyhow!(
            "{} page-flip events for {n} flips:\n{}",
            events.len(),
            indent(&out)
        ));
    }
    if let Some(w) = events
        .windows(2)
        .find(|w| w[1].0 <= w[0].0 || w[1].1 <= w[0].1)
    {
        return Err(anyhow!("vblank sequence or time did not advance: {w:?}"));
    }
    let (first, last) = (events[0], events[events.len() - 1]);
    let frames = (last.0 - first.0) as f64;
    let period = (last.1 - first.1) / frames;
    // A lower bound only: a slow machine stretches frames, it cannot shorten them.
    if period < 0.5 / f64::from(refresh_hz) {
        return Err(anyhow!(
            "{frames} vblanks in {:.4} s: faster than {refresh_hz} Hz",
            last.1 - first.1
        ));
    }
    println!("INFO {n} flips, {:.1} ms per vblank", period * 1000.0);
    Ok(())
}

/// Runs the bad-input program and records each of its checks.
pub fn check_badinput(vm: &mut Vm, rep: &mut Report, c_bochs: bool) {
    let cmd = if c_bochs {
        "rbguest badinput --c-bochs"
    } else {
        "rbguest badinput"
    };
    match vm.run(cmd, Duration::from_secs(120)) {
        Ok((rc, out)) => {
            let mut seen = 0;
            for l in &out {
                if let Some(rest) = l.strip_prefix("CHECK ") {
                    if let Some((name, verdict)) = rest.split_once(": ") {
                        seen += 1;
                        let r = if verdict.starts_with("ok") {
                            Ok(())
                        } else {
                            Err(anyhow!(verdict.to_string()))
                        };
                        rep.record(&format!("badinput.{name}"), r);
                    }
                }
            }
            if rc != 0 || seen == 0 {
                rep.record("badinput", Err(anyhow!("exited {rc}:\n{}", indent(&out))));
            }
        }
        Err(e) => {
            rep.record("badinput", Err(e));
        }
    }
}

/// Sets every mode the connector lists (that fits the screenshot check) and compares.
pub fn check_all_modes(vm: &mut Vm, out: &Path) -> Result<()> {
    let ci = parse_info(&vm.ok("rbguest info")?)?;
    let mut modes = ci.modes.clone();
    modes.dedup();
    let mut failed = Vec::new();
    for (i, m) in modes.iter().enumerate() {
        if let Err(e) = check_pattern(vm, out, *m, 100 + i as u32) {
            failed.push(format!("{}x{}: {e}", m.0, m.1));
        }
    }
    if failed.is_empty() {
        println!("INFO {} modes set and checked", modes.len());
        Ok(())
    } else {
        Err(anyhow!(failed.join("; ")))
    }
}

/// Unbinds the device while a client holds it open with a mapped buffer, then binds again.
pub fn check_unbind_while_mapped(vm: &mut Vm, out: &Path, drv: &Driver) -> Result<()> {
    let dev = pci_name(vm)?;
    let d = format!("/sys/bus/pci/drivers/{}", drv.driver_dir());
    vm.ok("rbguest hold 1024x768 21 3 > /tmp/hold.log 2>&1 < /dev/null & echo $! > /tmp/hold.pid")?;
    vm.ok("for i in $(seq 50); do grep -q @@HOLDING /tmp/hold.log && break; sleep 0.1; done; grep -q @@HOLDING /tmp/hold.log")?;
    vm.ok(&format!("echo {dev} > {d}/unbind"))?;
    vm.ok("wait $(cat /tmp/hold.pid); cat /tmp/hold.log")?;
    vm.ok(&format!("echo {dev} > {d}/bind"))?;
    wait_guest(vm, "test -c /dev/dri/card0")?;
    check_pattern(vm, out, (1024, 768), 22)
}

/// Unbinds and binds, then unloads and reloads the module, `n` times each, with fbcon bound.
pub fn check_rebind_cycles(vm: &mut Vm, out: &Path, drv: &Driver, n: u32) -> Result<()> {
    let dev = pci_name(vm)?;
    let d = format!("/sys/bus/pci/drivers/{}", drv.driver_dir());
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

    let wc = load_with_args_and_map_type(vm, drv, "vram_cache=wc")?;
    if wc.memtype != C_BOCHS.vram_memtype {
        return Err(anyhow!("vram_cache=wc mapped the VRAM as {}", wc.memtype));
    }
    let st = debugfs_state(vm)?;
    if !st
        .iter()
        .any(|(k, v)| k == "vram_cache" && v == "write-combine")
    {
        return Err(anyhow!("debugfs does not report write-combine: {st:?}"));
    }
    check_pattern(vm, out, (1024, 768), 24)?;
    vm.ok(&format!("rmmod {}", drv.module))?;

    let wb = load_and_map_type(vm, drv)?;
    if wb.memtype != drv.vram_memtype {
        return Err(anyhow!("the default mapped the VRAM as {}", wb.memtype));
    }
    Ok(())
}

/// Starts a client in the background that shows pattern `seed` and holds the card with the
/// buffer mapped for 60 s (`/tmp/hold.log`, pid in `/tmp/hold.pid`), and waits until it does.
fn start_holder(vm: &mut Vm, seed: u32) -> Result<()> {
    start_holder_for(vm, seed, 60)
}

/// [`start_holder`] holding for `secs` seconds.
fn start_holder_for(vm: &mut Vm, seed: u32, secs: u32) -> Result<()> {
    vm.ok(&format!(
        "rbguest hold 1024x768 {seed} {secs} > /tmp/hold.log 2>&1 < /dev/null & echo $! > /tmp/hold.pid"
    ))?;
    wait_guest(vm, "grep -q @@HOLDING /tmp/hold.log")
}

/// System suspend and resume (s2idle with `pm_test=devices`: the drivers' suspend and resume
/// hooks run, the platform stays up): the client's picture is back afterwards, and rbochs
/// shows that the mode-config helpers turned the pipeline off and on again.
pub fn check_suspend_resume(vm: &mut Vm, out: &Path, drv: &Driver) -> Result<()> {
    let seed = 25;
    start_holder(vm, seed)?;
    let res = (|| {
        let state = |vm: &mut Vm| -> Result<Option<(u64, u64)>> {
            if drv.module != RBOCHS.module {
                return Ok(None);
            }
            let st = debugfs_state(vm)?;
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
    let _ = vm.run("kill $(cat /tmp/hold.pid); wait", Duration::from_secs(60));
    res
}

/// drm_panic: with `CONFIG_DRM_PANIC_DEBUG`, debugfs makes the panic handler draw its screen
/// (white on black by default) into the plane's scanout buffer, as a real panic would, through
/// the driver's `get_scanout_buffer`. The screen must then show it instead of the client's
/// picture.
pub fn check_panic(vm: &mut Vm, out: &Path) -> Result<()> {
    let seed = 27;
    start_holder(vm, seed)?;
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
    let _ = vm.run("kill $(cat /tmp/hold.pid); wait", Duration::from_secs(60));
    res
}

/// System shutdown turns the display off: halt the guest while a client shows a picture, and
/// the screen no longer shows it. Ends the guest.
pub fn check_shutdown(vm: &mut Vm, out: &Path) -> Result<()> {
    let seed = 26;
    start_holder(vm, seed)?;
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

/// Guest shell test: fbcon is bound to a framebuffer (the test kernels have no /dev/fb*).
pub const FBCON_BOUND: &str =
    "grep -qs 1 $(grep -ls 'frame buffer' /sys/class/vtconsole/*/name | sed 's/name$/bind/')";

/// Polls `cond` in the guest (every 0.1 s, for up to 10 s) until it holds.
pub fn wait_guest(vm: &mut Vm, cond: &str) -> Result<()> {
    vm.ok(&format!(
        "for i in $(seq 100); do {cond} && break; sleep 0.1; done; {cond}"
    ))
    .map(|_| ())
    .map_err(|e| anyhow!("waited 10 s for it: {e}"))
}

/// The PCI name (`0000:00:01.0`) of the display device.
pub fn pci_name(vm: &mut Vm) -> Result<String> {
    let out =
        vm.ok("for d in /sys/bus/pci/devices/*; do \
         [ \"$(cat $d/vendor):$(cat $d/device)\" = 0x1234:0x1111 ] && basename $d && break; done")?;
    out.first()
        .cloned()
        .ok_or_else(|| anyhow!("no 1234:1111 device"))
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

/// Boots a suite's guest, has kmemleak forget boot-time objects, and loads `drv`.
fn boot_and_load(
    cfg: &VmConfig,
    name: &str,
    display: String,
    drv: &Driver,
    rep: &mut Report,
) -> Option<Vm> {
    let mut vm = boot_suite(cfg, name, display, rep)?;
    let _ = vm.run(
        "echo clear > /sys/kernel/debug/kmemleak",
        Duration::from_secs(60),
    );
    rep.record(
        "load",
        vm.ok(&format!("modprobe {}", drv.module)).map(|_| ()),
    );
    Some(vm)
}

fn boot_suite(cfg: &VmConfig, name: &str, display: String, rep: &mut Report) -> Option<Vm> {
    let mut cfg = cfg.clone();
    cfg.display = display;
    cfg.workdir = cfg.workdir.join(name);
    match Vm::boot(&cfg, Duration::from_secs(240)) {
        Ok(vm) => {
            rep.record("boot", Ok(()));
            Some(vm)
        }
        Err(e) => {
            rep.record("boot", Err(e));
            None
        }
    }
}

/// The driver suite: loads `drv` on one device variant and checks what reaches the screen.
pub fn driver_suite(cfg: &VmConfig, drv: &Driver, device: &str, rep: &mut Report) -> Result<()> {
    let name = format!("{}-{device}", drv.module);
    let Some(mut vm) = boot_suite(cfg, &name, format!("{device},xres={XRES},yres={YRES}"), rep)
    else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    let _ = vm.run(
        "echo clear > /sys/kernel/debug/kmemleak",
        Duration::from_secs(60),
    );

    let mapped = load_and_map_type(&mut vm, drv);
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

    let info = vm.ok("rbguest info").and_then(|l| parse_info(&l));
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
    // C bochs takes no alpha format.
    let formats: &[&str] = if drv.module == RBOCHS.module {
        &["xrgb8888", "argb8888", "bgrx8888", "bgra8888"]
    } else {
        &["xrgb8888", "bgrx8888"]
    };
    rep.record(
        "formats",
        check_formats(&mut vm, &out, (1024, 768), formats),
    );
    let counters = drv.module == "rbochs";
    rep.record(
        "damage-atomic",
        check_damage(&mut vm, &out, "atomic", (100, 50, 64, 64), counters),
    );
    rep.record(
        "damage-dirtyfb",
        check_damage(&mut vm, &out, "dirtyfb", (300, 200, 64, 64), counters),
    );
    rep.record("page-flip-events", check_flips(&mut vm, 12, 60));
    if device == "VGA" {
        rep.record("all-modes", check_all_modes(&mut vm, &out));
    }
    check_badinput(&mut vm, rep, drv.module != "rbochs");
    rep.record(
        "unbind-while-mapped",
        check_unbind_while_mapped(&mut vm, &out, drv),
    );
    rep.record("rebind-cycles", check_rebind_cycles(&mut vm, &out, drv, 3));
    if drv.module == RBOCHS.module {
        rep.record("vram-cache-param", check_cache_param(&mut vm, &out, drv));
        rep.record("crtc-off-fb-kept", check_off_on(&mut vm, &out));
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

/// Unbind/bind and unload/reload cycles, each while fbcon is bound and a client holds an open
/// file and a mapped dumb buffer on the screen: the client gets errors, never a crash; an
/// unload is refused (EBUSY) while the client holds the file; nothing leaks.
pub fn stress_suite(cfg: &VmConfig, drv: &Driver, cycles: u32, rep: &mut Report) -> Result<()> {
    let name = format!("{}-stress", drv.module);
    let Some(mut vm) = boot_and_load(cfg, &name, "VGA".into(), drv, rep) else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    let dev = pci_name(&mut vm)?;
    let d = format!("/sys/bus/pci/drivers/{}", drv.driver_dir());
    // One shell loop per kind of cycle: a round trip over the serial line per step would
    // take longer than the cycles themselves.
    let client = "rbguest hold 1024x768 7 600 > /tmp/h.log 2>&1 < /dev/null & p=$!; \
         for j in $(seq 200); do grep -q @@HOLDING /tmp/h.log && break; sleep 0.05; done; \
         grep -q @@HOLDING /tmp/h.log || { echo \"cycle $i: client did not start\"; cat /tmp/h.log; exit 1; }";
    let ready = format!(
        "for j in $(seq 200); do ls /dev/dri/card* >/dev/null 2>&1 && {FBCON_BOUND} && break; sleep 0.05; done; \
         ls /dev/dri/card* >/dev/null 2>&1 && {FBCON_BOUND} || {{ echo \"cycle $i: no card or fbcon\"; exit 1; }}"
    );
    let rebind = format!(
        "for i in $(seq {cycles}); do {client}; \
         echo {dev} > {d}/unbind && echo {dev} > {d}/bind || {{ echo \"cycle $i: rebind failed\"; exit 1; }}; \
         {ready}; kill $p; wait $p; done; echo STRESS-DONE"
    );
    let r = vm.run(&format!("( {rebind} )"), Duration::from_secs(1800));
    rep.record("unbind-bind-cycles", stress_result(r, cycles));
    let m = drv.module;
    let reload = format!(
        "for i in $(seq {cycles}); do {client}; \
         if rmmod {m} 2>/dev/null; then echo \"cycle $i: unloaded while a client holds the card\"; exit 1; fi; \
         kill $p; wait $p; \
         rmmod {m} && modprobe {m} || {{ echo \"cycle $i: reload failed\"; exit 1; }}; \
         {ready}; done; echo STRESS-DONE"
    );
    let r = vm.run(&format!("( {reload} )"), Duration::from_secs(1800));
    rep.record("rmmod-insmod-cycles", stress_result(r, cycles));
    rep.record("kmemleak", check_kmemleak(&mut vm));
    rep.record("kernel-log", check_kernel_log(&mut vm));
    rep.record(
        "pattern-after",
        check_pattern(&mut vm, &out, (1024, 768), 52),
    );
    vm.shutdown()
}

fn stress_result(r: Result<(i32, Vec<String>)>, cycles: u32) -> Result<()> {
    let (rc, out) = r?;
    if rc != 0 || !out.iter().any(|l| l.contains("STRESS-DONE")) {
        return Err(anyhow!(
            "exited {rc}:\n{}",
            indent(&out[out.len().saturating_sub(20)..])
        ));
    }
    println!("INFO {cycles} cycles");
    Ok(())
}

/// Hot-unplug: the display sits on a PCIe root port; QMP `device_del` removes it while a
/// client draws, `device_add` brings it back, and the driver binds it and shows the console.
/// QEMU's std-VGA cannot be hot-plugged; bochs-display (same device ID, display class) can,
/// into a second port (see the comment at `device_add`).
pub fn hotplug_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let name = format!("{}-hotplug", drv.module);
    let display = "pcie-root-port,id=rp0,chassis=1,slot=1;pcie-root-port,id=rp1,chassis=2,slot=2;\
                   bochs-display,bus=rp0,id=disp"
        .to_string();
    let Some(mut vm) = boot_suite(cfg, &name, display, rep) else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    let _ = vm.run(
        "echo clear > /sys/kernel/debug/kmemleak",
        Duration::from_secs(60),
    );
    rep.record(
        "load",
        vm.ok(&format!("modprobe {}", drv.module))
            .and_then(|_| wait_guest(&mut vm, FBCON_BOUND)),
    );
    let present = "grep -qs 0x1111 /sys/bus/pci/devices/*/device";
    let unplug = (|| {
        start_holder_for(&mut vm, 9, 20)?;
        vm.qmp_execute("device_del", json!({ "id": "disp" }))?;
        // pciehp waits out the attention button's 5 s before it removes the device.
        vm.ok(&format!(
            "for i in $(seq 300); do {present} || break; sleep 0.1; done; ! {present}"
        ))
        .map_err(|e| anyhow!("the device did not go away: {e}"))?;
        let client = vm.ok("wait $(cat /tmp/hold.pid); cat /tmp/hold.log")?;
        println!("INFO client after unplug: {}", client.join(" | "));
        Ok(())
    })();
    rep.record("unplug-while-drawing", unplug);
    let replug = (|| {
        vm.qmp_execute(
            "device_add",
            // Into the other port: QEMU 10.0 never frees an unplugged bochs-display's video
            // memory, and a new one at the same address aborts on the duplicate RAM block.
            json!({ "driver": "bochs-display", "bus": "rp1", "id": "disp2" }),
        )?;
        vm.ok(&format!(
            "for i in $(seq 300); do {present} && break; sleep 0.1; done; {present}"
        ))
        .map_err(|e| anyhow!("the device did not come back: {e}"))?;
        wait_guest(&mut vm, "ls /dev/dri/card* > /dev/null 2>&1")?;
        wait_guest(&mut vm, FBCON_BOUND)?;
        check_pattern(&mut vm, &out, (1024, 768), 53)
    })();
    rep.record("replug", replug);
    rep.record("kmemleak", check_kmemleak(&mut vm));
    let log = vm.ok("dmesg -c")?;
    let bad: Vec<&String> = log
        .iter()
        .filter(|l| BAD_LOG.iter().any(|p| l.contains(p)))
        .collect();
    if bad.is_empty() {
        rep.record("kernel-log", Ok(()));
    } else if pciehp_lockdep_only(&log) {
        // Lockdep then switches itself off for the rest of the boot: say so.
        rep.skip(
            "kernel-log",
            "Linux 7.3's pciehp reports a lock-order problem of its own (ctrl->reset_lock vs \
             pci_rescan_remove_lock) on unplug; no display driver code is involved, and \
             lockdep is off after it",
        );
    } else {
        rep.record(
            "kernel-log",
            Err(anyhow!("kernel log reports problems:\n{}", indent(&log))),
        );
    }
    vm.shutdown()
}

/// Whether the only problem in `log` is pciehp's own lockdep report about its reset lock and
/// the PCI rescan lock, with no DRM or display driver function in it.
fn pciehp_lockdep_only(log: &[String]) -> bool {
    let bad = |l: &&String| BAD_LOG.iter().any(|p| l.contains(p));
    let only_lockdep = log
        .iter()
        .filter(bad)
        .all(|l| l.contains("possible circular locking dependency") || l.contains("Call trace:"));
    let text = log.join("\n");
    only_lockdep
        && text.contains("pciehp_ist")
        && text.contains("pci_rescan_remove_lock")
        && !["drm_", "bochs"].iter().any(|d| {
            let start = text.find("possible circular locking").unwrap_or(0);
            text[start..].lines().take(120).any(|l| l.contains(d))
        })
}

/// Seed of the fuzz runs in `make check` (`FUZZ_SEED` overrides; `make fuzz` picks its own).
pub fn fuzz_seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261125)
}

/// Calls per fuzz run (`FUZZ_CALLS` overrides).
pub fn fuzz_calls() -> u64 {
    std::env::var("FUZZ_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// The ioctl fuzzer against `drv` on the debug kernel: the run must end, and the kernel must
/// report nothing (KASAN, lockdep, WARN, oops, hung task, leaks). Failures name the seed.
pub fn fuzz_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let name = format!("{}-fuzz", drv.module);
    let Some(mut vm) = boot_and_load(cfg, &name, format!("VGA,xres={XRES},yres={YRES}"), drv, rep)
    else {
        return Ok(());
    };
    let (seed, calls) = (fuzz_seed(), fuzz_calls());
    let again = format!("reproduce with FUZZ_SEED={seed} FUZZ_CALLS={calls}");
    let run = vm
        .run(
            &format!("rbguest fuzz {seed} {calls}"),
            Duration::from_secs(3600),
        )
        .and_then(|(rc, out)| {
            let summary = out.iter().find(|l| l.starts_with("FUZZ ")).cloned();
            match (rc, summary) {
                (0, Some(s)) => {
                    println!("INFO {s}");
                    for l in out.iter().filter(|l| l.starts_with("FUZZ-IOCTL")) {
                        println!("INFO   {l}");
                    }
                    Ok(())
                }
                _ => Err(anyhow!("the fuzzer exited {rc}:\n{}", indent(&out))),
            }
        });
    rep.record("ioctls", run.map_err(|e| anyhow!("{e}\n{again}")));
    let bad = kernel_log_problems(&mut vm)?;
    // Linux 7.3's C bochs accepts modes too slow for its vblank timer; every commit on one
    // then times out waiting for a vblank and warns. rbochs refuses such modes (the CRTC's
    // mode check). That warning on C bochs is the reference's bug, reported as a skip.
    let known =
        |l: &String| l.contains("drm_atomic_helper_wait_for_vblanks") || l.contains("Call trace:");
    if drv.module == C_BOCHS.module && !bad.is_empty() && bad.iter().all(known) {
        let n = bad.iter().filter(|l| l.contains("WARNING")).count();
        rep.skip(
            "kernel-log",
            &format!(
                "C bochs's own bug: {n} vblank-wait timeouts on modes too slow for its vblank \
                 timer (rbochs refuses those modes)"
            ),
        );
    } else if bad.is_empty() {
        rep.record("kernel-log", Ok(()));
    } else {
        rep.record(
            "kernel-log",
            Err(anyhow!(
                "kernel log reports problems:\n{}{again}",
                indent(&bad)
            )),
        );
    }
    rep.record(
        "kmemleak",
        check_kmemleak(&mut vm).map_err(|e| anyhow!("{e}\n{again}")),
    );
    // The device still works afterwards.
    rep.record(
        "pattern-after",
        check_pattern(&mut vm, &cfg.workdir.join(&name), (1024, 768), 51),
    );
    vm.shutdown()
}

/// The Rust KMS sample (a virtual display on a faux device), driven like a real one.
pub fn sample_suite(cfg: &VmConfig, rep: &mut Report) -> Result<()> {
    let Some(mut vm) = boot_suite(cfg, "sample", "VGA".into(), rep) else {
        return Ok(());
    };
    let _ = vm.run(
        "echo clear > /sys/kernel/debug/kmemleak",
        Duration::from_secs(60),
    );
    rep.record(
        "load",
        vm.ok("modprobe rust_drm_kms")
            .and_then(|_| wait_guest(&mut vm, "test -c /dev/dri/card0")),
    );
    let info = vm.ok("rbguest info").and_then(|l| parse_info(&l));
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
            let st = sample_state(&mut vm)?;
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
    check_badinput(&mut vm, rep, false);
    rep.record(
        "reload",
        vm.ok("rmmod rust_drm_kms && test ! -e /dev/dri/card0 && modprobe rust_drm_kms")
            .and_then(|_| wait_guest(&mut vm, FBCON_BOUND)),
    );
    rep.record("kmemleak", check_kmemleak(&mut vm));
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()
}

/// The sample's debugfs state.
fn sample_state(vm: &mut Vm) -> Result<Vec<(String, String)>> {
    let out = vm.ok("cat /sys/kernel/debug/rust_drm_kms/state")?;
    Ok(out
        .iter()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// Odd geometry and tiny video memory: an EDID preferring a mode whose width is not a multiple
/// of 8 (1001x667, which the device would show 1000 wide) gets a 1000x667 mode preferred in
/// its place, shown pixel-exact; with 1 MiB of video memory the driver offers only modes that
/// fit, or refuses with a log line.
pub fn odd_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let name = format!("{}-odd", drv.module);
    if let Some(mut vm) = boot_and_load(cfg, &name, "VGA,xres=1001,yres=667".into(), drv, rep) {
        let out = cfg.workdir.join(&name);
        let info = vm.ok("rbguest info").and_then(|l| parse_info(&l));
        // QEMU rounds the width down to a multiple of 8, so a 1001 pixel wide mode shows 1000
        // wide: a driver must not offer it.
        match info {
            Ok(ci) => match ci.preferred {
                Some((w, _)) if w % 8 != 0 && drv.module == C_BOCHS.module => rep.skip(
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
    let name = format!("{}-tiny", drv.module);
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

/// Without EDID and with 4 MiB of video memory: the standard modes that fit, 1024x768 preferred.
pub fn noedid_suite(cfg: &VmConfig, drv: &Driver, rep: &mut Report) -> Result<()> {
    let name = format!("{}-noedid", drv.module);
    let Some(mut vm) = boot_suite(cfg, &name, "VGA,edid=off,vgamem_mb=4".into(), rep) else {
        return Ok(());
    };
    let out = cfg.workdir.join(&name);
    rep.record(
        "load",
        vm.ok(&format!("modprobe {}", drv.module)).map(|_| ()),
    );
    let info = vm.ok("rbguest info").and_then(|l| parse_info(&l));
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

/// rbochs built in: it drives fbcon from boot, and rebinding maps VRAM write-back.
pub fn builtin_suite(cfg: &VmConfig, rep: &mut Report) -> Result<()> {
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
    let drv = &RBOCHS;
    let remap = pci_name(&mut vm).and_then(|dev| {
        let d = format!("/sys/bus/pci/drivers/{}", drv.driver_dir());
        vm.ok(&format!("echo {dev} > {d}/unbind"))?;
        let vram = vram_size(&mut vm)?;
        vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.before")?;
        vm.ok(&format!("echo {dev} > {d}/bind"))?;
        let new = vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.after; \
             grep -vxFf /tmp/pt.before /tmp/pt.after; true")?;
        ptdump::find_region(&ptdump::parse(&new.join("\n")), vram)
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

    // `nomodeset` leaves the display to firmware drivers, unless `rbochs.modeset=1` insists.
    for (args, bound) in [("nomodeset", false), ("nomodeset rbochs.modeset=1", true)] {
        let mut c = cfg.clone();
        c.append = format!("{} {args}", c.append);
        let name = format!("builtin-{}", args.replace([' ', '.', '='], "-"));
        let Some(mut vm) = boot_suite(&c, &name, "VGA".into(), rep) else {
            continue;
        };
        let r = vm
            .run(
                "readlink /sys/bus/pci/devices/*/driver | grep -q rbochs",
                Duration::from_secs(60),
            )
            .and_then(|(rc, _)| match (rc == 0, bound) {
                (true, true) => Ok(()),
                (false, false) => vm
                    .ok("dmesg | grep -q 'disabled by nomodeset'")
                    .map(|_| ())
                    .map_err(|_| anyhow!("not bound, but no log line says why")),
                (b, _) => Err(anyhow!("with '{args}' rbochs bound: {b}, want {bound}")),
            });
        rep.record(&name, r);
        vm.shutdown()?;
    }
    Ok(())
}

/// Writes a banner to the console and checks that fbcon shows text: the screen is not blank
/// and changes when text is written.
pub fn check_fbcon(vm: &mut Vm, out: &Path) -> Result<()> {
    vm.ok("test -e /sys/class/graphics/fbcon")?;
    let before = out.join("fbcon-before.png");
    let after = out.join("fbcon-after.png");
    vm.ok("printf '\\033[2J\\033[H' > /dev/tty0")?;
    settle(vm, &before)?;
    vm.ok("for i in 1 2 3 4 5 6 7 8; do echo 'rbochs fbcon line '$i > /dev/tty0; done")?;
    let img = settle(vm, &after)?;
    let blank = Image::load(&before)?;
    let changed = img
        .pixels
        .iter()
        .zip(&blank.pixels)
        .filter(|(a, b)| a != b)
        .count();
    if img.colours() < 2 || changed < 500 {
        return Err(anyhow!(
            "console text not visible: {} colours, {changed} pixels changed ({})",
            img.colours(),
            after.display()
        ));
    }
    Ok(())
}

/// Takes screenshots until two in a row agree (fbcon draws through deferred I/O).
fn settle(vm: &mut Vm, path: &Path) -> Result<Image> {
    let mut last: Option<Vec<u32>> = None;
    for _ in 0..50 {
        vm.screendump(path)?;
        let img = Image::load(path)?;
        if last.as_ref() == Some(&img.pixels) {
            return Ok(img);
        }
        last = Some(img.pixels.clone());
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(anyhow!("{} never settled", path.display()))
}

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

/// Formats the results for the summary.
pub fn summary_line(passed: usize, failed: usize, skipped: usize) -> String {
    let mut s = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        let _ = write!(s, ", {skipped} skipped");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn info_parsing() -> Result<()> {
        let ci = parse_info(&lines(
            "driver bochs-drm\nconnector 35 Virtual-1 Connected\nmode 1112x834 60 preferred\nmode 1024x768 60\n",
        ))?;
        assert_eq!(ci.driver, "bochs-drm");
        assert!(ci.connected);
        assert_eq!(ci.preferred, Some((1112, 834)));
        assert_eq!(ci.modes, vec![(1112, 834), (1024, 768)]);
        assert!(parse_info(&lines("mode 1x1 60\n")).is_err());
        Ok(())
    }

    #[test]
    fn ktap_parsing() {
        let log = lines(
            "[    3.1] KTAP version 1\n[    3.1] 1..2\n[    3.2]     # Subtest: rust_drm_kms_damage\n\
             [    3.2]     1..2\n[    3.3]     ok 1 rect_geometry\n[    3.3]     not ok 2 empty\n\
             [    3.3] # rust_drm_kms_damage: pass:1 fail:1\n[    3.3] not ok 1 rust_drm_kms_damage\n",
        );
        assert_eq!(
            ktap_cases(&log),
            vec![
                ("rust_drm_kms_damage.rect_geometry".to_string(), true),
                ("rust_drm_kms_damage.empty".to_string(), false)
            ]
        );
    }

    #[test]
    fn fnv1a_vectors() {
        // The published 64-bit FNV-1a test vectors; the KMS sample computes the same.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn rect_membership() {
        assert!(inside((10, 10, 4, 4), 10, 13));
        assert!(!inside((10, 10, 4, 4), 14, 10));
    }

    #[test]
    fn summary_format() {
        assert_eq!(summary_line(3, 0, 0), "3 passed, 0 failed");
        assert_eq!(summary_line(3, 1, 2), "3 passed, 1 failed, 2 skipped");
    }
}
