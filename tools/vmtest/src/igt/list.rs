// SPDX-License-Identifier: GPL-2.0
//! Which IGT tests run, with which subtests and how long they may take.

/// One IGT test with the subtests chosen for it (`None`: all of them; otherwise IGT's
/// `--run-subtest` pattern, where `*,!name` means every subtest but `name`), and the least
/// time it gets (seconds at time scale 1), for tests whose subtests run for a fixed time.
pub struct IgtTest {
    pub name: &'static str,
    pub subtests: Option<&'static str>,
    pub min_secs: u64,
}

const fn t(name: &'static str, subtests: Option<&'static str>) -> IgtTest {
    IgtTest {
        name,
        subtests,
        min_secs: 0,
    }
}

impl IgtTest {
    /// The same test with at least `secs` seconds.
    const fn at_least(self, secs: u64) -> IgtTest {
        IgtTest {
            min_secs: secs,
            ..self
        }
    }
}

/// The tests that apply to a single-CRTC, single-primary-plane (XRGB8888, BGRX8888),
/// cursorless driver with a software vblank timer, run under TCG in a guest without udevd.
/// Failures both drivers share stay in the run: they are recorded as such (skips "also
/// fails on C bochs", and rows of the report); README.md, "The x86_64 guest and IGT GPU
/// Tools", says why each fails. Left out:
/// - subtests that need what neither the device nor the guest has: GPU hangs (`*-hang`),
///   suspend and resume (`*suspend*`: no wake-up source in the guest), a second CRTC
///   (`2x-*`, which IGT would skip);
/// - kms_flip's subtests beyond those below: timing under TCG (see `FLIP`), and others run
///   30 s to a few minutes each, for time;
/// - tests of hardware neither driver has, which would only skip: CRCs (kms_pipe_crc_basic,
///   kms_cursor_crc, kms_plane_alpha_blend, kms_rotation_crc, kms_fb_coherency, ...),
///   cursor and overlay planes (kms_plane_cursor, kms_cursor_edge_walk, kms_plane_multiple,
///   kms_plane_scaling), writeback, colour management, VRR, HDR, DSC, PSR and FBC, tiling
///   and compression modifiers, and the tests of other drivers (gem_*, i915_*, xe_*, ...).
pub const TESTS: &[IgtTest] = &[
    t("core_getversion", None),
    t("core_getclient", None),
    t("core_getstats", None),
    t("core_auth", None),
    t("core_setmaster", None),
    t("core_setmaster_vs_auth", None),
    t("core_debugfs", None),
    t("core_sysfs", None),
    t("drm_read", None).at_least(120),
    t("dumb_buffer", None).at_least(120),
    t("fbdev", None),
    t("prime_mmap_kms", None),
    t("kms_addfb_basic", None),
    t("kms_getfb", None),
    t("kms_rmfb", None),
    t("kms_atomic", None),
    t("kms_atomic_transition", None).at_least(300),
    t("kms_atomic_interruptible", None),
    t("kms_concurrent", None),
    t("kms_cursor_legacy", Some("*,!2x-*")),
    t("kms_properties", None),
    t("kms_prop_blob", None),
    t("kms_flip", Some(FLIP)).at_least(300),
    t("kms_flip_event_leak", None),
    t("kms_vblank", Some("*,!*-hang,!*suspend*")).at_least(300),
    t("kms_setmode", Some("basic,basic-clone-single-crtc,invalid-clone-single-crtc")),
    t("kms_universal_plane", None),
    t("kms_dirtyfb", None),
    t("kms_invalid_mode", None),
    t("kms_sequence", None),
    t("kms_plane", Some("plane-position-covered,plane-position-hole,plane-panning-top-left,plane-panning-bottom-right,pixel-format")),
    t("kms_lease", None),
    t("kms_force_connector_basic", None),
    t("kms_sysfs_edid_timing", None),
    t("kms_feature_discovery", Some("display,display-1x")),
    t("kms_debugfs", None),
    t("kms_3d", None),
    // Last: it unbinds, removes and rescans the device, and a failure may leave none.
    t("core_hotunplug", None).at_least(300),
];

/// kms_flip's subtests that run: flips and their events, flips against DPMS, modesets and
/// RMFB, and the timestamps of flip events (`plain-flip-ts-check`, sampled apart: see
/// [`super::timing`]). Left out for TCG's timing (README.md has the figures): the subtests that flip and wait for a vblank in every frame
/// (basic-flip-vs-wf_vblank, flip-vs-absolute-wf_vblank, flip-vs-blocking-wf-vblank), where
/// the slow guest misses frames on both drivers; flip-vs-expired-vblank, which wants a wait
/// for a past vblank back within 500 us; busy-flip, which wants a second flip refused while
/// the first is pending, and which each driver has failed in one run and passed in another
/// (the slow guest sometimes issues the second after the first completed).
const FLIP: &str = "basic-plain-flip,basic-flip-vs-dpms,basic-flip-vs-modeset,nonexisting-fb,\
                    flip-vs-rmfb,plain-flip-ts-check";
