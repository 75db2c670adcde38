// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The software vblank timer: vblank events for hardware without a vblank interrupt.
//!
//! C header: [`include/drm/drm_vblank_helper.h`](srctree/include/drm/drm_vblank_helper.h)
//!
//! A CRTC whose [`DriverCrtc::Vblank`](super::crtc::DriverCrtc::Vblank) is [`VblankTimer`] gets
//! `DRM_CRTC_VBLANK_TIMER_FUNCS`: an hrtimer that fires at the refresh rate of the current mode
//! while the CRTC is on, and stands in for the vblank interrupt. It carries two policies:
//!
//! - modes are refused unless the timer runs between [`MIN_REFRESH_HZ`] and [`MAX_REFRESH_HZ`]
//!   (see [`refresh_status`] and [`timer_period_ns`]);
//! - vblanks only come while the CRTC is on, which the commit tail of every KMS device allows
//!   for (it enables CRTCs before it flushes planes and waits for the commit's events).

use super::{
    crtc::{
        self,
        private::Sealed, //
    },
    mode::DisplayMode,
    ModeStatus, //
};
use crate::bindings;

/// The software vblank timer, as a CRTC's [`Vblank`](crtc::Vblank) source.
pub struct VblankTimer;

impl crtc::Vblank for VblankTimer {}

impl Sealed for VblankTimer {
    const FUNCS: bindings::drm_crtc_funcs = bindings::drm_crtc_funcs {
        enable_vblank: Some(bindings::drm_crtc_vblank_helper_enable_vblank_timer),
        disable_vblank: Some(bindings::drm_crtc_vblank_helper_disable_vblank_timer),
        get_vblank_timestamp: Some(
            bindings::drm_crtc_vblank_helper_get_vblank_timestamp_from_timer,
        ),
        ..pin_init::zeroed()
    };

    fn mode_valid(mode: &DisplayMode) -> ModeStatus {
        timer_mode_valid(mode)
    }
}

/// Whether the vblank timer can pace `mode`: its nominal refresh rate (`drm_mode_vrefresh()`)
/// and the rate the timer will actually run at both lie between [`MIN_REFRESH_HZ`] and
/// [`MAX_REFRESH_HZ`].
fn timer_mode_valid(mode: &DisplayMode) -> ModeStatus {
    match refresh_status(mode.vrefresh()) {
        ModeStatus::OK => timer_status(mode),
        refused => refused,
    }
}

/// Slowest refresh rate, in Hz, the software vblank timer serves: the atomic helpers wait at
/// most 100 ms for a vblank (and warn when it does not come), and that wait must cover a frame
/// plus the latency of a loaded (or emulated) machine. At 30 Hz a frame takes a third of it.
pub const MIN_REFRESH_HZ: i32 = 30;
/// Fastest refresh rate, in Hz: beyond it the vblank timer would flood the CPU.
pub const MAX_REFRESH_HZ: i32 = 1000;

/// Whether the vblank timer can pace a mode refreshing `hz` times a second.
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::{vblank_helper::refresh_status, ModeStatus};
///
/// assert_eq!(refresh_status(60), ModeStatus::OK);
/// assert_eq!(refresh_status(0), ModeStatus::CLOCK_LOW);
/// assert_eq!(refresh_status(100_000), ModeStatus::CLOCK_HIGH);
/// ```
pub fn refresh_status(hz: i32) -> ModeStatus {
    if hz < MIN_REFRESH_HZ {
        ModeStatus::CLOCK_LOW
    } else if hz > MAX_REFRESH_HZ {
        ModeStatus::CLOCK_HIGH
    } else {
        ModeStatus::OK
    }
}

/// Whether the vblank timer, as it will run for `mode`, fires between [`MIN_REFRESH_HZ`] and
/// [`MAX_REFRESH_HZ`] times a second (see [`timer_period_ns`]). This is not always the mode's
/// refresh rate: interlaced modes tick faster, and timings whose product overflows the C
/// computation would give the timer a bogus period.
fn timer_status(mode: &DisplayMode) -> ModeStatus {
    let period = timer_period_ns(
        mode.clock(),
        mode.htotal(),
        mode.vtotal(),
        mode.vscan(),
        mode.flags(),
    );
    match period {
        None => ModeStatus::CLOCK_LOW,
        Some(0) => ModeStatus::CLOCK_HIGH,
        // Rounded to the closest rate, as `drm_mode_vrefresh()` rounds.
        Some(ns) => {
            let hz = (crate::time::NSEC_PER_SEC.unsigned_abs() + ns / 2) / ns;
            refresh_status(i32::try_from(hz).unwrap_or(i32::MAX))
        }
    }
}

/// The period of the vblank timer for a mode with these timings, in nanoseconds, computed as
/// the kernel will: `drm_calc_timestamping_constants()` on the CRTC timings that
/// `drm_mode_set_crtcinfo()` derives with `CRTC_INTERLACE_HALVE_V` (what the mode
/// conversions of userspace and probed modes use). `None` where that computation has no
/// clock, or overflows its `int` frame size.
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::vblank_helper::timer_period_ns;
///
/// // 1024x768 at 60 Hz (VESA DMT): 65 MHz, 1344 x 806.
/// assert_eq!(timer_period_ns(65000, 1344, 806, 0, 0), Some(16_665_600));
/// // Interlaced: the vertical total is halved, then the frame duration halved again.
/// assert_eq!(timer_period_ns(65000, 1344, 806, 0, 1 << 4), Some(4_166_400));
/// // Double scan doubles the lines, as does a vscan of 2.
/// assert_eq!(timer_period_ns(65000, 1344, 806, 0, 1 << 5), Some(33_331_200));
/// assert_eq!(timer_period_ns(65000, 1344, 806, 2, 0), Some(33_331_200));
/// // 50000 x 50000 does not fit the kernel's `int` frame size.
/// assert_eq!(timer_period_ns(i32::MAX, 50000, 50000, 0, 0), None);
/// assert_eq!(timer_period_ns(0, 1344, 806, 0, 0), None);
/// ```
pub fn timer_period_ns(
    clock_khz: i32,
    htotal: u16,
    vtotal: u16,
    vscan: u16,
    flags: u32,
) -> Option<u64> {
    let interlace = flags & bindings::DRM_MODE_FLAG_INTERLACE != 0;
    // `crtc_vtotal` is a `u16`: each step truncates, as the C assignments do.
    let mut lines = vtotal;
    if interlace {
        lines /= 2;
    }
    if flags & bindings::DRM_MODE_FLAG_DBLSCAN != 0 {
        lines = lines.wrapping_mul(2);
    }
    if vscan > 1 {
        lines = lines.wrapping_mul(vscan);
    }
    let clock = u64::try_from(clock_khz).ok().filter(|&c| c > 0)?;
    let frame = u32::from(htotal) * u32::from(lines);
    if i32::try_from(frame).is_err() {
        return None;
    }
    let ns = u64::from(frame) * 1_000_000 / clock;
    Some(if interlace { ns / 2 } else { ns })
}
