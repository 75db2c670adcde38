// SPDX-License-Identifier: GPL-2.0
//! The in-guest test suites: each boots a guest with one display device and
//! checks a driver through the guest's KMS interface and the host's view of
//! the emulated screen.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

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

    pub fn record(&mut self, name: &str, r: Result<()>) -> bool {
        let full = format!("{}.{name}", self.prefix);
        let line = match &r {
            Ok(()) => format!("PASS {full}"),
            Err(e) => {
                self.failed += 1;
                format!("FAIL {full}: {e}")
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

/// Fails on any worrying kernel log line since the last call.
pub fn check_kernel_log(vm: &mut Vm) -> Result<()> {
    let out = vm.ok("dmesg -c")?;
    let bad: Vec<String> = out
        .into_iter()
        .filter(|l| BAD_LOG.iter().any(|p| l.contains(p)))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("kernel log reports problems:\n{}", indent(&bad)))
    }
}

/// What a driver-under-test looks like from the guest.
pub struct Driver {
    /// Module name for modprobe/rmmod.
    pub module: &'static str,
    /// Name DRM reports in DRM_IOCTL_VERSION.
    pub drm_name: &'static str,
    /// Expected memory type of the VRAM mapping on this architecture.
    pub vram_memtype: &'static str,
}

/// Linux's C bochs driver: the reference.
pub const C_BOCHS: Driver = Driver {
    module: "bochs",
    drm_name: "bochs-drm",
    vram_memtype: "MEM/NORMAL-NC",
};

/// Our driver: the VRAM is mapped write-back (cached) on arm64.
pub const RBOCHS: Driver = Driver {
    module: "rbochs",
    drm_name: "rbochs",
    vram_memtype: "MEM/NORMAL",
};

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
                    .ok_or_else(|| format!("bad mode line '{l}'"))?;
                let m = (
                    a.parse().map_err(|_| format!("bad mode '{l}'"))?,
                    b.parse().map_err(|_| format!("bad mode '{l}'"))?,
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
        return Err(format!(
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
    let line = out.first().ok_or("no 1234:1111 device in /sys/bus/pci")?;
    let w: Vec<u64> = line
        .split_whitespace()
        .map(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("bad resource line '{line}': {e}"))?;
    match w.as_slice() {
        [start, end, ..] if end > start => Ok(end - start + 1),
        _ => Err(format!("BAR0 not assigned: '{line}'")),
    }
}

/// Loads `drv` and reports the memory type of the VRAM mapping it creates.
pub fn load_and_map_type(vm: &mut Vm, drv: &Driver) -> Result<ptdump::Region> {
    let vram = vram_size(vm)?;
    vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.before")?;
    vm.ok(&format!("modprobe {}", drv.module))?;
    vm.ok("test -c /dev/dri/card0")?;
    let new = vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.after; grep -vxFf /tmp/pt.before /tmp/pt.after; true")?;
    ptdump::find_region(&ptdump::parse(&new.join("\n")), vram)
}

/// Scans out a pattern at `size` and compares the host's screenshot with it.
pub fn check_pattern(vm: &mut Vm, out: &Path, size: (u32, u32), seed: u32) -> Result<()> {
    let n = vm.start(&format!("rbguest show {}x{} {seed}", size.0, size.1))?;
    let ready = vm.wait_for(
        |l| l.contains("@@READY") || l.contains("rbguest: error"),
        Duration::from_secs(60),
    );
    let shot = out.join(format!("pattern-{}x{}-{seed}.png", size.0, size.1));
    let res = ready.and_then(|lines| {
        if lines.last().is_some_and(|l| l.contains("rbguest: error")) {
            return Err(lines.join("\n"));
        }
        vm.screendump(&shot)?;
        let img = Image::load(&shot)?;
        if (img.width, img.height) != size {
            return Err(format!(
                "screen is {}x{}, want {}x{}",
                img.width, img.height, size.0, size.1
            ));
        }
        img.compare(|x, y| pattern::pixel(seed, x, y))
            .map_err(|e| format!("{}: {e}", shot.display()))
    });
    vm.send("")?;
    let (rc, lines) = vm.finish(n, Duration::from_secs(60))?;
    res?;
    if rc != 0 {
        return Err(format!("rbguest show exited {rc}:\n{}", indent(&lines)));
    }
    Ok(())
}

/// The screen size and EDID modes a suite gives QEMU.
pub const XRES: u32 = 1112;
pub const YRES: u32 = 834;

/// The driver suite: loads `drv` on one device variant and checks what reaches the screen.
pub fn driver_suite(cfg: &VmConfig, drv: &Driver, device: &str, rep: &mut Report) -> Result<()> {
    let mut cfg = cfg.clone();
    cfg.display = format!("{device},xres={XRES},yres={YRES}");
    cfg.workdir = cfg.workdir.join(format!("{}-{device}", drv.module));
    let mut vm = match Vm::boot(&cfg, Duration::from_secs(240)) {
        Ok(vm) => vm,
        Err(e) => {
            rep.record("boot", Err(e));
            return Ok(());
        }
    };
    rep.record("boot", Ok(()));

    let mapped = load_and_map_type(&mut vm, drv);
    rep.record(
        "vram-memtype",
        mapped.and_then(|g| {
            let msg = format!("VRAM mapped {:#x}-{:#x} as {}", g.start, g.end, g.memtype);
            println!("INFO {msg}");
            if g.memtype == drv.vram_memtype {
                Ok(())
            } else {
                Err(format!("{msg}, want {}", drv.vram_memtype))
            }
        }),
    );

    let info = vm.ok("rbguest info").and_then(|l| parse_info(&l));
    rep.record(
        "card",
        info.as_ref().map_err(Clone::clone).and_then(|ci| {
            if ci.driver != drv.drm_name {
                return Err(format!(
                    "DRM driver is '{}', want '{}'",
                    ci.driver, drv.drm_name
                ));
            }
            if !ci.connected {
                return Err("connector is not connected".into());
            }
            Ok(())
        }),
    );
    rep.record(
        "edid-modes",
        info.as_ref().map_err(Clone::clone).and_then(|ci| {
            if ci.preferred != Some((XRES, YRES)) {
                return Err(format!(
                    "preferred mode {:?}, want {XRES}x{YRES} from EDID; modes {:?}",
                    ci.preferred, ci.modes
                ));
            }
            Ok(())
        }),
    );

    let out = cfg.workdir.clone();
    rep.record(
        "pattern-1024x768",
        check_pattern(&mut vm, &out, (1024, 768), 1),
    );
    rep.record(
        "pattern-edid-mode",
        check_pattern(&mut vm, &out, (XRES, YRES), 2),
    );
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()
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
    fn summary_format() {
        assert_eq!(summary_line(3, 0, 0), "3 passed, 0 failed");
        assert_eq!(summary_line(3, 1, 2), "3 passed, 1 failed, 2 skipped");
    }
}
