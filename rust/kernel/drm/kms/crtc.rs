// SPDX-License-Identifier: GPL-2.0 OR MIT

//! CRTCs: the scanout engines that turn planes into a video signal.
//!
//! C header: [`include/drm/drm_crtc.h`](srctree/include/drm/drm_crtc.h)
//!
//! CRTCs made here pace page-flip events with the software vblank timer
//! (`DRM_CRTC_VBLANK_TIMER_FUNCS`): it fires at the refresh rate of the current mode, which is
//! what virtual or interrupt-less hardware needs. Call [`ModeConfig::vblank_init`] once for all
//! CRTCs.

use super::{
    mode::DisplayMode,
    plane::{
        DriverPlane,
        Plane, //
    },
    KmsDriver,
    ModeConfig,
    ModeStatus, //
};
use crate::{
    bindings,
    container_of,
    drm::{
        self,
        Ioctl, //
    },
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    prelude::*,
    types::Opaque, //
};
use core::ptr;

/// Driver data and hooks of a CRTC.
#[vtable]
pub trait DriverCrtc: Send + Sync + Sized {
    /// The driver this CRTC belongs to.
    type Driver: KmsDriver;

    /// Checks a new CRTC state; the default requires an enabled CRTC to have its primary plane
    /// (`drm_atomic_helper_check_crtc_primary_plane()`).
    fn atomic_check(_crtc: &Crtc<Self>, state: &CrtcState) -> Result {
        state.check_primary_plane()
    }

    /// Programs the display mode of `state` (the `mode_set_nofb` hook).
    fn mode_set_nofb(
        _crtc: &Crtc<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        _state: &CrtcState,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Turns the output on. Vblank events are switched on afterwards.
    fn atomic_enable(_crtc: &Crtc<Self>, _dev: &drm::Device<Self::Driver, Ioctl>) {}

    /// Turns the output off. Vblank events are switched off before.
    fn atomic_disable(_crtc: &Crtc<Self>, _dev: &drm::Device<Self::Driver, Ioctl>) {}

    /// Finishes a commit that includes this CRTC, after its planes were updated and before
    /// the commit's vblank event is armed (the `atomic_flush` hook): `old` and `new` are the
    /// CRTC's states before and after the commit. Called whether or not the CRTC is active.
    fn atomic_flush(
        _crtc: &Crtc<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        _old: &CrtcState,
        _new: &CrtcState,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A CRTC (`struct drm_crtc`) with driver data `T`.
///
/// # Invariants
///
/// `crtc` is an initialised `struct drm_crtc` with `Crtc::FUNCS`, allocated by [`Crtc::new`]
/// and freed by the DRM core through the `destroy` hook when the device goes away.
#[repr(C)]
#[pin_data]
pub struct Crtc<T: DriverCrtc> {
    #[pin]
    crtc: Opaque<bindings::drm_crtc>,
    #[pin]
    inner: T,
}

impl<T: DriverCrtc> Crtc<T> {
    const FUNCS: bindings::drm_crtc_funcs = bindings::drm_crtc_funcs {
        destroy: Some(Self::destroy_callback),
        set_config: Some(bindings::drm_atomic_helper_set_config),
        page_flip: Some(bindings::drm_atomic_helper_page_flip),
        atomic_create_state: Some(bindings::drm_atomic_helper_crtc_create_state),
        atomic_duplicate_state: Some(bindings::drm_atomic_helper_crtc_duplicate_state),
        atomic_destroy_state: Some(bindings::drm_atomic_helper_crtc_destroy_state),
        enable_vblank: Some(bindings::drm_crtc_vblank_helper_enable_vblank_timer),
        disable_vblank: Some(bindings::drm_crtc_vblank_helper_disable_vblank_timer),
        get_vblank_timestamp: Some(
            bindings::drm_crtc_vblank_helper_get_vblank_timestamp_from_timer,
        ),
        // SAFETY: All other members are optional function pointers, for which zero is `None`.
        ..unsafe { core::mem::zeroed() }
    };

    const HELPER_FUNCS: bindings::drm_crtc_helper_funcs = bindings::drm_crtc_helper_funcs {
        mode_set_nofb: if T::HAS_MODE_SET_NOFB {
            Some(Self::mode_set_nofb_callback)
        } else {
            None
        },
        mode_valid: Some(Self::mode_valid_callback),
        atomic_check: Some(Self::atomic_check_callback),
        atomic_flush: if T::HAS_ATOMIC_FLUSH {
            Some(Self::atomic_flush_callback)
        } else {
            Some(bindings::drm_crtc_vblank_atomic_flush)
        },
        atomic_enable: Some(Self::atomic_enable_callback),
        atomic_disable: Some(Self::atomic_disable_callback),
        // SAFETY: All other members are optional function pointers, for which zero is `None`.
        ..unsafe { core::mem::zeroed() }
    };

    /// Creates a CRTC fed by `primary`.
    pub fn new<'a, P: DriverPlane<Driver = T::Driver>>(
        mc: &ModeConfig<'a, T::Driver>,
        primary: &Plane<P>,
        init: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let init = try_pin_init!(Self {
            crtc <- Opaque::init_zeroed(),
            inner <- init,
        });
        let register = |raw: *mut Self| {
            // SAFETY: `raw` is a valid allocation.
            let crtc = unsafe { Opaque::cast_into(&raw const (*raw).crtc) };
            // SAFETY: The device is unregistered with an initialised mode configuration; `crtc`
            // is zeroed memory; `primary` belongs to the same device; the vtable is `'static`.
            to_result(unsafe {
                bindings::drm_crtc_init_with_planes(
                    mc.as_raw(),
                    crtc,
                    primary.as_raw(),
                    ptr::null_mut(),
                    &Self::FUNCS,
                    ptr::null(),
                )
            })?;
            // SAFETY: `crtc` is initialised; the helper vtable is `'static`.
            unsafe { bindings::drm_crtc_helper_add(crtc, &Self::HELPER_FUNCS) };
            Ok(())
        };
        // SAFETY: Only `destroy_callback` frees the CRTC, and the DRM core calls it when the
        // device is released.
        unsafe { mc.new_object(init, register) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_crtc {
        self.crtc.get()
    }

    /// # Safety
    ///
    /// `ptr` must point to the `crtc` member of a live `Crtc<T>`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_crtc) -> &'a Self {
        // SAFETY: Guaranteed by the caller.
        unsafe { &*container_of!(Opaque::cast_from(ptr), Self, crtc) }
    }

    /// The bit of this CRTC in `possible_crtcs` masks (`drm_crtc_mask()`).
    pub fn mask(&self) -> u32 {
        // SAFETY: The CRTC is initialised.
        unsafe { bindings::drm_crtc_mask(self.as_raw()) }
    }

    /// The driver data.
    pub fn data(&self) -> &T {
        &self.inner
    }

    /// # Safety
    ///
    /// `crtc` must be a CRTC made by [`Crtc::new`], whose device has been registered.
    unsafe fn ioctl_dev<'a>(crtc: *mut bindings::drm_crtc) -> &'a drm::Device<T::Driver, Ioctl> {
        // SAFETY: See the module documentation of `kms`: hooks that reach hardware run only for
        // registered devices.
        unsafe { drm::Device::from_raw((*crtc).dev) }
    }

    extern "C" fn destroy_callback(crtc: *mut bindings::drm_crtc) {
        // SAFETY: Called once by the DRM core when the device goes away.
        unsafe { bindings::drm_crtc_cleanup(crtc) };
        // SAFETY: `crtc` is the first member of a `Crtc<T>` allocated by `new`, no longer used.
        drop(unsafe {
            KBox::from_raw(container_of!(Opaque::cast_from(crtc), Self, crtc).cast_mut())
        });
    }

    extern "C" fn mode_valid_callback(
        crtc: *mut bindings::drm_crtc,
        mode: *const bindings::drm_display_mode,
    ) -> bindings::drm_mode_status {
        // SAFETY: The DRM core passes a mode that is valid and unchanged for the call.
        let mode = unsafe { DisplayMode::from_raw(mode) };
        let status = match refresh_status(mode.vrefresh()) {
            ModeStatus::OK => timer_status(mode),
            refused => refused,
        };
        if status != ModeStatus::OK || !<T::Driver as KmsDriver>::HAS_MODE_VALID {
            return status.as_raw();
        }
        // SAFETY: `crtc` is a valid CRTC whose device is a `T::Driver` device, alive for the
        // call.
        let dev = unsafe { drm::Device::<T::Driver>::from_raw((*crtc).dev) };
        // The device-wide filter applies to modes userspace makes up, not just to probed ones.
        T::Driver::mode_valid(dev, mode).as_raw()
    }

    extern "C" fn atomic_check_callback(
        crtc: *mut bindings::drm_crtc,
        state: *mut bindings::drm_atomic_commit,
    ) -> c_int {
        from_result(|| {
            // SAFETY: Valid pointers from the atomic helpers; the CRTC is part of the commit.
            let new = unsafe { bindings::drm_atomic_get_new_crtc_state(state, crtc) };
            // SAFETY: `crtc` belongs to a `Crtc<T>`; `new` is its state in this commit.
            T::atomic_check(unsafe { Self::from_raw(crtc) }, unsafe {
                CrtcState::from_raw(new)
            })?;
            Ok(0)
        })
    }

    extern "C" fn mode_set_nofb_callback(crtc: *mut bindings::drm_crtc) {
        // SAFETY: During a commit the CRTC's current state is the one being applied.
        let (this, dev, state) = unsafe {
            (
                Self::from_raw(crtc),
                Self::ioctl_dev(crtc),
                CrtcState::from_raw((*crtc).state),
            )
        };
        T::mode_set_nofb(this, dev, state);
    }

    extern "C" fn atomic_flush_callback(
        crtc: *mut bindings::drm_crtc,
        state: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: Valid pointers from the atomic helpers, which flush only CRTCs that are part
        // of the commit, so both states exist and stay unchanged during the call.
        let (old, new) = unsafe {
            (
                CrtcState::from_raw(bindings::drm_atomic_get_old_crtc_state(state, crtc)),
                CrtcState::from_raw(bindings::drm_atomic_get_new_crtc_state(state, crtc)),
            )
        };
        // SAFETY: `crtc` belongs to a `Crtc<T>` of a registered device.
        let (this, dev) = unsafe { (Self::from_raw(crtc), Self::ioctl_dev(crtc)) };
        T::atomic_flush(this, dev, old, new);
        // SAFETY: As above; vblank was initialised for the CRTC.
        unsafe { bindings::drm_crtc_vblank_atomic_flush(crtc, state) };
    }

    extern "C" fn atomic_enable_callback(
        crtc: *mut bindings::drm_crtc,
        _state: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: `crtc` belongs to a `Crtc<T>` of a registered device.
        T::atomic_enable(unsafe { Self::from_raw(crtc) }, unsafe {
            Self::ioctl_dev(crtc)
        });
        // SAFETY: The CRTC is valid and vblank was initialised for it.
        unsafe { bindings::drm_crtc_vblank_on(crtc) };
    }

    extern "C" fn atomic_disable_callback(
        crtc: *mut bindings::drm_crtc,
        _state: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: The CRTC is valid and vblank was initialised for it.
        unsafe { bindings::drm_crtc_vblank_off(crtc) };
        // SAFETY: `crtc` belongs to a `Crtc<T>` of a registered device.
        T::atomic_disable(unsafe { Self::from_raw(crtc) }, unsafe {
            Self::ioctl_dev(crtc)
        });
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
/// use kernel::drm::kms::{crtc::refresh_status, ModeStatus};
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
pub fn timer_status(mode: &DisplayMode) -> ModeStatus {
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
/// use kernel::drm::kms::crtc::timer_period_ns;
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

// SAFETY: The C object is only changed under DRM's modeset locks; driver data is `Send`.
unsafe impl<T: DriverCrtc> Send for Crtc<T> {}
// SAFETY: As above; driver data is `Sync`.
unsafe impl<T: DriverCrtc> Sync for Crtc<T> {}

/// The atomic state of a CRTC (`struct drm_crtc_state`), read-only.
///
/// # Invariants
///
/// `self.0` is a valid CRTC state that is not changed while borrowed.
#[repr(transparent)]
pub struct CrtcState(Opaque<bindings::drm_crtc_state>);

impl CrtcState {
    /// # Safety
    ///
    /// `ptr` must be a valid CRTC state that is not changed during `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_crtc_state) -> &'a Self {
        // SAFETY: Guaranteed by the caller; `Self` is transparent.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> &bindings::drm_crtc_state {
        // SAFETY: Valid by the type invariant.
        unsafe { &*self.0.get() }
    }

    /// Whether the CRTC is enabled (has a mode).
    pub fn enable(&self) -> bool {
        self.raw().enable
    }

    /// Whether the CRTC is actively scanning out.
    pub fn active(&self) -> bool {
        self.raw().active
    }

    /// The display mode.
    pub fn mode(&self) -> &DisplayMode {
        // SAFETY: The mode is part of the state, which is valid and unchanged while borrowed.
        unsafe { DisplayMode::from_raw(&self.raw().mode) }
    }

    /// Whether any plane is attached to the CRTC in this state (`plane_mask` is not empty).
    pub fn has_planes(&self) -> bool {
        self.raw().plane_mask != 0
    }

    /// Whether the commit changes the mode, the active flag or the connectors of the CRTC, so
    /// the output is programmed anew (`drm_atomic_crtc_needs_modeset()`).
    pub fn needs_modeset(&self) -> bool {
        // SAFETY: The state is valid by the type invariant.
        unsafe { bindings::drm_atomic_crtc_needs_modeset(self.0.get()) }
    }

    /// Requires an enabled CRTC to have its primary plane.
    pub fn check_primary_plane(&self) -> Result {
        if !self.enable() {
            return Ok(());
        }
        // SAFETY: The state is valid and part of the commit being checked.
        to_result(unsafe { bindings::drm_atomic_helper_check_crtc_primary_plane(self.0.get()) })
    }
}
