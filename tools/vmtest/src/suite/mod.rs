// SPDX-License-Identifier: GPL-2.0
//! The in-guest test suites: each boots a guest with one display device and
//! checks a driver through the guest's KMS interface and the host's view of
//! the emulated screen.
//!
//! What differs between the drivers is data ([`Driver`]'s capabilities); which suites there
//! are is the table [`SUITES`].

mod coexist;
mod damage;
mod display;
mod driver;
pub mod guest;
mod kunit;
mod lifecycle;
mod misuse;
mod report;
mod robustness;
mod sample;
pub mod tearing;

use std::time::Duration;

use anyhow::anyhow;

use crate::vm::{Vm, VmConfig};
use crate::Result;

pub use guest::{bound_driver, parse_info, pci_name, wait_guest, FBCON_BOUND};
pub use report::{kernel_log_problems, summary_line, Report};

/// What a driver-under-test looks like from the guest, and what it can do.
#[derive(Debug, PartialEq, Eq)]
pub struct Driver {
    /// Its name in suite names (`rbochs-vga`, `cbochs-fuzz`).
    pub suite_name: &'static str,
    /// PCI driver name in sysfs.
    pub pci_driver: &'static str,
    /// Module name for modprobe/rmmod.
    pub module: &'static str,
    /// Name DRM reports in DRM_IOCTL_VERSION.
    pub drm_name: &'static str,
    /// Expected memory type of the VRAM mapping on this architecture.
    pub vram_memtype: &'static str,
    /// debugfs `state` counts commits and the bytes each update copied.
    pub debugfs_counters: bool,
    /// Takes ARGB8888 and BGRA8888 framebuffers.
    pub alpha_formats: bool,
    /// Refuses what it cannot scan out or pace: a framebuffer larger than video memory, and
    /// modes too slow for the software vblank timer (on which a commit would time out).
    pub refuses_unpaceable: bool,
    /// Offers an EDID's preferred mode whose width is not a multiple of 8 (which the device
    /// shows narrower) narrowed to what it shows.
    pub narrows_odd_width: bool,
    /// Has the `vram_cache` module parameter.
    pub vram_cache_param: bool,
    /// Lets an atomic commit turn the CRTC off and keep the framebuffer on the plane.
    pub crtc_off_keeps_fb: bool,
    /// Lights a CRTC with no plane (black).
    pub lit_without_plane: bool,
    /// Module options, given on the kernel command line (modprobe reads them there too).
    pub cmdline: &'static str,
    /// What debugfs `state` says about the frames of a 1024x768 picture in 16 MiB of video
    /// memory (`buffering: double` or `single`), for drivers that say.
    pub buffering: Option<&'static str>,
}

/// The memory type of a write-combining mapping on arm64.
pub const WRITE_COMBINE: &str = "MEM/NORMAL-NC";

/// Linux's C bochs driver: the reference.
pub const C_BOCHS: Driver = Driver {
    suite_name: "cbochs",
    pci_driver: "bochs-drm",
    module: "bochs",
    drm_name: "bochs-drm",
    vram_memtype: WRITE_COMBINE,
    debugfs_counters: false,
    alpha_formats: false,
    refuses_unpaceable: false,
    narrows_odd_width: false,
    vram_cache_param: false,
    crtc_off_keeps_fb: false,
    lit_without_plane: false,
    cmdline: "",
    buffering: None,
};

/// Our driver: the VRAM is mapped write-back (cached) on arm64.
pub const RBOCHS: Driver = Driver {
    suite_name: "rbochs",
    pci_driver: "rbochs",
    module: "rbochs",
    drm_name: "rbochs",
    vram_memtype: "MEM/NORMAL",
    debugfs_counters: true,
    alpha_formats: true,
    refuses_unpaceable: true,
    narrows_odd_width: true,
    vram_cache_param: true,
    crtc_off_keeps_fb: true,
    lit_without_plane: true,
    cmdline: "",
    buffering: Some("double"),
};

/// Our driver drawing into the frame on screen, as C bochs does (`double_buffer=0`).
pub const RBOCHS_SINGLE: Driver = Driver {
    suite_name: "rbochs-single",
    cmdline: "rbochs.double_buffer=0",
    buffering: Some("single"),
    ..RBOCHS
};

impl Driver {
    /// The driver's directory in sysfs, with its `bind` and `unbind` files.
    pub fn sysfs_dir(&self) -> String {
        format!("/sys/bus/pci/drivers/{}", self.pci_driver)
    }
}

/// The drivers every per-driver suite runs on.
pub const DRIVERS: [&Driver; 2] = [&RBOCHS, &C_BOCHS];

/// Driver variants the per-driver suites can run on besides [`DRIVERS`].
const VARIANTS: [&Driver; 1] = [&RBOCHS_SINGLE];

/// The screen size and EDID modes a suite gives QEMU.
pub const XRES: u32 = 1112;
pub const YRES: u32 = 834;

/// What a suite does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The driver suite on one device variant (QEMU's `-device` name).
    Driver(&'static str),
    NoEdid,
    Odd,
    Fuzz,
    /// Unbind/bind and unload/reload cycles, so many of each.
    Stress(u32),
    Hotplug,
    Builtin,
    Kunit,
    Sample,
    /// Out-of-tree modules that misuse the kernel crate (`tools/misuse`).
    Misuse,
    /// Both drivers as modules on one device variant: which binds under modprobe.d.
    Coexist(&'static str),
    /// C bochs, single- and double-buffered rbochs on one device variant: torn screenshots.
    Tearing(&'static str),
}

/// The per-driver suites: `DRIVER-SUFFIX` names `Kind` on that driver.
const PER_DRIVER: &[(&str, Kind)] = &[
    ("vga", Kind::Driver("VGA")),
    ("display", Kind::Driver("bochs-display")),
    ("noedid", Kind::NoEdid),
    ("odd", Kind::Odd),
    ("fuzz", Kind::Fuzz),
    ("stress", Kind::Stress(100)),
    ("hotplug", Kind::Hotplug),
];

/// The suites named on their own: rbochs built into the kernel, KUnit, the KMS sample, the
/// misuse cases, and both drivers as modules side by side.
const ALONE: &[(&str, Kind, Option<&Driver>)] = &[
    ("builtin", Kind::Builtin, Some(&RBOCHS)),
    ("kunit", Kind::Kunit, None),
    ("sample", Kind::Sample, None),
    ("misuse", Kind::Misuse, None),
    ("coexist-vga", Kind::Coexist("VGA"), None),
    ("coexist-display", Kind::Coexist("bochs-display"), None),
    ("tearing-vga", Kind::Tearing("VGA"), None),
    ("tearing-display", Kind::Tearing("bochs-display"), None),
];

/// A suite `vmtest check` can run.
#[derive(Debug, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    pub kind: Kind,
    pub driver: Option<&'static Driver>,
}

/// Every suite, per-driver ones first.
pub fn suites() -> Vec<Suite> {
    let per_driver = DRIVERS.iter().chain(VARIANTS.iter()).flat_map(|d| {
        PER_DRIVER.iter().map(move |(suffix, kind)| Suite {
            name: format!("{}-{suffix}", d.suite_name),
            kind: *kind,
            driver: Some(*d),
        })
    });
    let alone = ALONE.iter().map(|(name, kind, driver)| Suite {
        name: name.to_string(),
        kind: *kind,
        driver: *driver,
    });
    per_driver.chain(alone).collect()
}

/// The suite called `name`.
pub fn find(name: &str) -> Result<Suite> {
    suites()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let known: Vec<String> = suites().into_iter().map(|s| s.name).collect();
            anyhow!("unknown suite '{name}' (known: {})", known.join(", "))
        })
}

impl Suite {
    /// Runs the suite, one result line per test into `rep`.
    ///
    /// A driver that maps video memory non-cacheable shows stale pictures in an arm64 guest
    /// under KVM unless the host has FEAT_S2FWB (the bug rbochs fixes): there its wrong
    /// screenshots are expected, and recorded as skips that say so.
    pub fn run(&self, cfg: &VmConfig, rep: &mut Report) -> Result<()> {
        let mut cfg = cfg.clone();
        if let Some(d) = self.driver.filter(|d| !d.cmdline.is_empty()) {
            cfg.append = format!("{} {}", cfg.append, d.cmdline).trim().to_string();
        }
        let cfg = &cfg;
        if self.driver.is_some_and(|d| d.vram_memtype == WRITE_COMBINE)
            && cfg.arch == "arm64"
            && cfg.accel() == "kvm"
        {
            rep.expect_wrong_pictures(
                "non-cacheable video memory under arm64 KVM on a host without FEAT_S2FWB",
            );
        }
        match (self.kind, self.driver) {
            (Kind::Kunit, _) => kunit::kunit_suite(cfg, rep),
            (Kind::Sample, _) => sample::sample_suite(cfg, rep),
            (Kind::Misuse, _) => misuse::misuse_suite(cfg, rep),
            (Kind::Coexist(device), _) => coexist::coexist_suite(cfg, device, rep),
            (Kind::Tearing(device), _) => tearing::tearing_suite(cfg, device, rep),
            (_, None) => Err(anyhow!("suite {} names no driver", self.name)),
            (Kind::Driver(device), Some(drv)) => driver::driver_suite(cfg, drv, device, rep),
            (Kind::NoEdid, Some(drv)) => driver::noedid_suite(cfg, drv, rep),
            (Kind::Odd, Some(drv)) => driver::odd_suite(cfg, drv, rep),
            (Kind::Builtin, Some(drv)) => driver::builtin_suite(cfg, drv, rep),
            (Kind::Fuzz, Some(drv)) => robustness::fuzz_suite(cfg, drv, rep),
            (Kind::Stress(cycles), Some(drv)) => robustness::stress_suite(cfg, drv, cycles, rep),
            (Kind::Hotplug, Some(drv)) => robustness::hotplug_suite(cfg, drv, rep),
        }
    }
}

/// Boots a suite's guest on `display` (QEMU `-device` values, `;`-separated), its files in
/// the directory `name`; records `boot`.
pub fn boot_suite(cfg: &VmConfig, name: &str, display: String, rep: &mut Report) -> Option<Vm> {
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

/// Boots a suite's guest, has kmemleak forget boot-time objects, and loads `drv`.
fn boot_and_load(
    cfg: &VmConfig,
    name: &str,
    display: String,
    drv: &Driver,
    rep: &mut Report,
) -> Option<Vm> {
    let mut vm = boot_suite(cfg, name, display, rep)?;
    report::clear_kmemleak(&mut vm);
    rep.record(
        "load",
        vm.ok(&format!("modprobe {}", drv.module)).map(|_| ()),
    );
    Some(vm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_their_driver_and_kind() {
        let s = find("cbochs-display").unwrap();
        assert_eq!(
            (s.kind, s.driver),
            (Kind::Driver("bochs-display"), Some(&C_BOCHS))
        );
        let s = find("rbochs-stress").unwrap();
        assert_eq!((s.kind, s.driver), (Kind::Stress(100), Some(&RBOCHS)));
        assert_eq!(find("kunit").unwrap().driver, None);
        assert_eq!(find("builtin").unwrap().driver, Some(&RBOCHS));
    }

    #[test]
    fn unknown_suite_is_a_clear_error() {
        let e = find("rbochs-vgaa").unwrap_err().to_string();
        assert!(
            e.starts_with("unknown suite 'rbochs-vgaa' (known: rbochs-vga, "),
            "{e}"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<String> = suites().into_iter().map(|s| s.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(n, 29);
    }

    /// The suite names a `vmtest check` command line in `script` names: the words after
    /// `check` and its `--flag value` pairs, or after `suites NAME CONFIG` (check.sh's helper).
    fn suites_named_in(script: &str) -> Vec<String> {
        let joined = script.replace("\\\n", " ");
        let mut names = Vec::new();
        for line in joined.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let w: Vec<&str> = line.split_whitespace().collect();
            let start = if let Some(i) = w.iter().position(|&x| x == "suites") {
                i + 3
            } else if let Some(i) = w
                .windows(2)
                .position(|p| p[0].ends_with("VMTEST)") && p[1] == "check")
            {
                let mut j = i + 2;
                while w.get(j).is_some_and(|x| x.starts_with("--")) {
                    j += 2;
                }
                j
            } else {
                continue;
            };
            names.extend(
                w.iter()
                    .skip(start)
                    .filter(|x| !x.starts_with(['$', '"']))
                    .map(|x| x.to_string()),
            );
        }
        names
    }

    #[test]
    fn every_suite_the_scripts_run_resolves() {
        let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut named = Vec::new();
        for f in ["check.sh", "../Makefile"] {
            let text = std::fs::read_to_string(tools.join(f)).unwrap();
            named.extend(suites_named_in(&text));
        }
        for n in [
            "rbochs-vga",
            "cbochs-hotplug",
            "builtin",
            "kunit",
            "rbochs-fuzz",
            "tearing-vga",
            "tearing-display",
        ] {
            assert!(named.iter().any(|x| x == n), "{n} not found in {named:?}");
        }
        for n in &named {
            assert!(find(n).is_ok(), "{n}");
        }
    }
}
