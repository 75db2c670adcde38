// SPDX-License-Identifier: GPL-2.0 OR MIT

//! CRTCs: the scanout engines that turn planes into a video signal.
//!
//! C header: [`include/drm/drm_crtc.h`](srctree/include/drm/drm_crtc.h)
//!
//! A CRTC's vblank events come from the source its driver names in [`DriverCrtc::Vblank`]; the
//! only one so far is the [`VblankTimer`](super::vblank_helper::VblankTimer) helper, for
//! hardware without a vblank interrupt. Vblank handling is switched on and
//! off with the CRTC and arms the commit's event at flush (the hooks of
//! `DRM_CRTC_HELPER_VBLANK_FUNCS`); [`ModeConfig::finish`] sets it up for every CRTC.

use super::{
    mode::DisplayMode,
    plane::{
        DriverPlane,
        Plane, //
    },
    state::{
        CState,
        StateData,
        Subclass, //
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
        to_result, //
    },
    prelude::*,
    types::Opaque, //
};
use core::ptr;

/// Where a CRTC's vblank events come from.
///
/// Implemented by [`VblankTimer`](super::vblank_helper::VblankTimer), the software timer of
/// `drm_vblank_helper.c`. (A source for a driver's own vblank interrupt is left for the first
/// driver that has one: its hooks run with interrupts off, under the vblank lock.)
///
/// Sealed: an implementation supplies C vblank functions for the CRTC's vtable, which only the
/// kernel crate can vouch for.
pub trait Vblank: private::Sealed {}

pub(crate) mod private {
    use super::*;

    /// What a [`Vblank`] source contributes to a CRTC.
    pub trait Sealed {
        /// The vblank members of `struct drm_crtc_funcs` (`enable_vblank`, `disable_vblank`,
        /// `get_vblank_timestamp`); all others are `None`.
        const FUNCS: bindings::drm_crtc_funcs;

        /// Whether the source can pace `mode`.
        fn mode_valid(mode: &DisplayMode) -> ModeStatus;
    }
}

/// Driver data and hooks of a CRTC.
#[vtable]
pub trait DriverCrtc: Send + Sync + Sized {
    /// The driver this CRTC belongs to.
    type Driver: KmsDriver;

    /// Where the CRTC's vblank events come from, e.g.
    /// [`VblankTimer`](super::vblank_helper::VblankTimer).
    type Vblank: Vblank;

    /// The driver data of the CRTC's atomic states (`()` for none): what its atomic check
    /// decides for the commit, see [`StateData`].
    type StateData: StateData;

    /// Checks a new CRTC state and records in its data what the commit is to do; the default
    /// requires an enabled CRTC to have its primary plane
    /// (`drm_atomic_helper_check_crtc_primary_plane()`).
    fn atomic_check(_crtc: &Crtc<Self>, check: &mut CrtcCheck<'_, Self::StateData>) -> Result {
        check.state().check_primary_plane()
    }

    /// Programs the display mode of `state` (the `mode_set_nofb` hook); the default does
    /// nothing.
    fn mode_set_nofb(
        _crtc: &Crtc<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        _state: &CrtcState<Self::StateData>,
    ) {
    }

    /// Turns the output on. Vblank events are switched on afterwards.
    fn atomic_enable(_crtc: &Crtc<Self>, _dev: &drm::Device<Self::Driver, Ioctl>) {}

    /// Turns the output off. Vblank events are switched off before.
    fn atomic_disable(_crtc: &Crtc<Self>, _dev: &drm::Device<Self::Driver, Ioctl>) {}

    /// Finishes a commit that includes this CRTC, after its planes were updated and before
    /// the commit's vblank event is armed (the `atomic_flush` hook): `old` and `new` are the
    /// CRTC's states before and after the commit. Called whether or not the CRTC is active;
    /// the default does nothing.
    fn atomic_flush(
        _crtc: &Crtc<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        _old: &CrtcState<Self::StateData>,
        _new: &CrtcState<Self::StateData>,
    ) {
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
        atomic_create_state: Some(Subclass::<bindings::drm_crtc_state, T::StateData>::create),
        atomic_duplicate_state: Some(Subclass::<bindings::drm_crtc_state, T::StateData>::duplicate),
        atomic_destroy_state: Some(Subclass::<bindings::drm_crtc_state, T::StateData>::destroy),
        ..<T::Vblank as private::Sealed>::FUNCS
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
        ..pin_init::zeroed()
    };

    /// Creates a CRTC fed by `primary`.
    ///
    /// The plane may then be used on this CRTC only (`drm_crtc_init_with_planes()` gives a
    /// primary plane without CRTCs its own).
    ///
    /// Fails with `EINVAL` if `primary` belongs to another device, with `EBUSY` if it already
    /// is another CRTC's primary plane.
    pub fn new<'a, P: DriverPlane<Driver = T::Driver>>(
        mc: &'a ModeConfig<T::Driver>,
        primary: &Plane<P>,
        init: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        if !mc.owns(primary.dev_raw()) {
            return Err(EINVAL);
        }
        if mc.crtc_with_primary(primary.as_raw()) {
            return Err(EBUSY);
        }
        let init = try_pin_init!(Self {
            crtc <- Opaque::init_zeroed(),
            inner <- init,
        });
        let register = |raw: *mut Self| {
            // SAFETY: `raw` is a valid allocation.
            let crtc = unsafe { Opaque::cast_into(&raw const (*raw).crtc) };
            // SAFETY: The device is unregistered with an initialised mode configuration (`mc`);
            // `crtc` is zeroed memory; `primary` is a primary plane of this device that no other
            // CRTC uses (checked above). The vtables outlive the device, as a connector's do
            // (`Connector::new`).
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
            // SAFETY: `crtc` is initialised; the helper vtable outlives the device (as above).
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

    /// The position of the CRTC among the device's, from 0 (`drm_crtc_index()`).
    pub fn index(&self) -> u32 {
        // SAFETY: The CRTC is initialised; its index never changes.
        unsafe { (*self.as_raw()).index }
    }

    /// The set of CRTCs that holds just this one (`drm_crtc_mask()`).
    pub fn mask(&self) -> CrtcMask {
        // SAFETY: The CRTC is initialised.
        CrtcMask(unsafe { bindings::drm_crtc_mask(self.as_raw()) })
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
        let status = <T::Vblank as private::Sealed>::mode_valid(mode);
        if status != ModeStatus::OK || !<T::Driver as KmsDriver>::HAS_MODE_VALID {
            return status.as_raw();
        }
        // SAFETY: `crtc` is a CRTC made by `Crtc::new`; modes are checked in atomic checks,
        // which only happen on registered devices.
        let dev = unsafe { Self::ioctl_dev(crtc) };
        T::Driver::mode_valid(dev, mode).as_raw()
    }

    extern "C" fn atomic_check_callback(
        crtc: *mut bindings::drm_crtc,
        state: *mut bindings::drm_atomic_commit,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `crtc` belongs to a `Crtc<T>` of a registered device.
            let dev = unsafe { Self::ioctl_dev(crtc) };
            if dev.registration_guard().is_none() {
                // Unplugged: the only commit left is the teardown's shutdown, which must not
                // fail on a driver's rule, or the CRTC (and its vblank timer) stays on.
                return Ok(0);
            }
            // SAFETY: Valid pointers from the atomic helpers, during the check phase, for a
            // CRTC that is part of the commit, so it has an old and a new state, states of this
            // CRTC (hence of `CrtcState<T::StateData>`); the new one is changed only by this
            // thread until the commit is checked, the old one not at all.
            let mut check = unsafe {
                CrtcCheck {
                    state: CrtcState::from_raw(bindings::drm_atomic_get_new_crtc_state(
                        state, crtc,
                    )),
                    old: CrtcState::from_raw(bindings::drm_atomic_get_old_crtc_state(state, crtc)),
                }
            };
            // SAFETY: `crtc` belongs to a `Crtc<T>`.
            T::atomic_check(unsafe { Self::from_raw(crtc) }, &mut check)?;
            Ok(0)
        })
    }

    extern "C" fn mode_set_nofb_callback(crtc: *mut bindings::drm_crtc) {
        // SAFETY: During a commit the CRTC's current state is the one being applied.
        let (this, dev, state) = unsafe {
            (
                Self::from_raw(crtc),
                Self::ioctl_dev(crtc),
                CrtcState::<T::StateData>::from_raw((*crtc).state),
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
                CrtcState::<T::StateData>::from_raw(bindings::drm_atomic_get_old_crtc_state(
                    state, crtc,
                )),
                CrtcState::<T::StateData>::from_raw(bindings::drm_atomic_get_new_crtc_state(
                    state, crtc,
                )),
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

/// A set of CRTCs, for the `possible_crtcs` of encoders.
///
/// Made from [`Crtc::mask`]; sets of several CRTCs with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrtcMask(u32);

impl CrtcMask {
    pub(crate) fn as_raw(self) -> u32 {
        self.0
    }
}

impl core::ops::BitOr for CrtcMask {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

// SAFETY: The C object is only changed under DRM's modeset locks; driver data is `Send`.
unsafe impl<T: DriverCrtc> Send for Crtc<T> {}
// SAFETY: As above; driver data is `Sync`.
unsafe impl<T: DriverCrtc> Sync for Crtc<T> {}

/// The atomic state of a CRTC (`struct drm_crtc_state`), subclassed with driver data `D`
/// ([`DriverCrtc::StateData`]; none by default).
///
/// `CrtcState` without a parameter is the C state alone, which every CRTC state starts with.
///
/// # Invariants
///
/// The state is a `Subclass` of `struct drm_crtc_state` with `D` (for `D = ()`, any CRTC
/// state: its C part), not changed while borrowed except through [`CrtcCheck::data_mut`].
#[repr(transparent)]
pub struct CrtcState<D: StateData = ()>(Subclass<bindings::drm_crtc_state, D>);

// SAFETY: `struct drm_crtc_state` is its own base; the functions are the `__drm_atomic_helper_*`
// halves of `drm_atomic_helper_crtc_{create,duplicate,destroy}_state()`.
unsafe impl CState for bindings::drm_crtc_state {
    type Object = bindings::drm_crtc;
    type Base = bindings::drm_crtc_state;

    /// # Safety
    ///
    /// As for `CState::base`.
    unsafe fn base(state: *mut Self) -> *mut Self {
        state
    }

    /// # Safety
    ///
    /// As for `CState::from_base`.
    unsafe fn from_base(base: *mut Self) -> *mut Self {
        base
    }

    /// # Safety
    ///
    /// As for `CState::current`.
    unsafe fn current(crtc: *mut bindings::drm_crtc) -> *mut Self {
        // SAFETY: The caller passes a valid CRTC.
        unsafe { (*crtc).state }
    }

    /// # Safety
    ///
    /// As for `CState::init`.
    unsafe fn init(state: *mut Self, crtc: *mut bindings::drm_crtc) {
        // SAFETY: Guaranteed by the caller.
        unsafe { bindings::__drm_atomic_helper_crtc_state_init(state, crtc) }
    }

    /// # Safety
    ///
    /// As for `CState::duplicate`.
    unsafe fn duplicate(state: *mut Self, crtc: *mut bindings::drm_crtc) {
        // SAFETY: Guaranteed by the caller.
        unsafe { bindings::__drm_atomic_helper_crtc_duplicate_state(crtc, state) }
    }

    /// # Safety
    ///
    /// As for `CState::destroy`.
    unsafe fn destroy(state: *mut Self) {
        // SAFETY: Guaranteed by the caller.
        unsafe { bindings::__drm_atomic_helper_crtc_destroy_state(state) }
    }
}

impl<D: StateData> CrtcState<D> {
    /// # Safety
    ///
    /// `ptr` must be a valid CRTC state that is not changed during `'a`, allocated as a
    /// `CrtcState<D>` (any CRTC state for `D = ()`).
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::drm_crtc_state) -> &'a Self {
        // SAFETY: Guaranteed by the caller; `Self` is transparent over the subclass, and a
        // subclass with `()` is its C state alone.
        unsafe { &*ptr.cast() }
    }

    /// The driver's data, as the atomic check left it.
    pub fn data(&self) -> &D {
        self.0.data()
    }

    fn raw(&self) -> &bindings::drm_crtc_state {
        // SAFETY: Valid and not changed while borrowed, by the type invariant.
        unsafe { &*self.0.raw() }
    }

    /// Whether the CRTC is enabled (has a mode).
    fn enable(&self) -> bool {
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
        unsafe { bindings::drm_atomic_crtc_needs_modeset(self.0.raw()) }
    }

    /// Requires an enabled CRTC to have its primary plane.
    pub fn check_primary_plane(&self) -> Result {
        if !self.enable() {
            return Ok(());
        }
        // SAFETY: The state is valid and part of the commit being checked.
        to_result(unsafe { bindings::drm_atomic_helper_check_crtc_primary_plane(self.0.raw()) })
    }
}

/// A new CRTC state being checked, with the CRTC's state before the commit.
pub struct CrtcCheck<'a, D: StateData> {
    state: &'a CrtcState<D>,
    old: &'a CrtcState<D>,
}

impl<'a, D: StateData> CrtcCheck<'a, D> {
    /// The new CRTC state.
    pub fn state(&self) -> &CrtcState<D> {
        self.state
    }

    /// The CRTC's state before the commit.
    pub fn old_state(&self) -> &'a CrtcState<D> {
        self.old
    }

    /// The driver's data of the new state, to record what the commit is to do.
    pub fn data_mut(&mut self) -> &mut D {
        // SAFETY: The new state belongs to the commit being checked, which only this thread
        // changes during the check phase; `self` is borrowed mutably for as long as the
        // reference lives, so no other reference to the data exists through it
        // (`CrtcCheck::state` borrows `self`).
        unsafe { self.state.0.data_mut() }
    }
}
