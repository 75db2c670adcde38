// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Planes, their atomic state, and framebuffers.
//!
//! C header: [`include/drm/drm_plane.h`](srctree/include/drm/drm_plane.h)
//!
//! The planes here are primary planes ([`PlaneType`]), one per CRTC; overlay and cursor planes
//! are left to the first driver that has them. A plane's atomic state is the type its driver
//! names in [`DriverPlane::State`]: the plain [`PlaneState`], or a helper's state that embeds
//! it, such as the shadow-buffered
//! [`ShadowPlaneState`](super::gem_atomic_helper::ShadowPlaneState).

use super::{
    crtc::CrtcState,
    format::Format,
    KmsDriver,
    ModeConfig, //
};
use crate::{
    bindings,
    bits::bit_u32,
    container_of,
    drm::{
        self,
        Ioctl, //
    },
    error::{
        from_result,
        to_result, //
    },
    impl_flags,
    io::memremap::MemRemap,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Relaxed,
        Release, //
    },
    types::Opaque, //
};
use core::ptr;

/// `DRM_PLANE_NO_SCALING`: a 1:1 scaling factor in 16.16 fixed point.
const NO_SCALING: i32 = 1 << 16;

/// The kind of a plane (`enum drm_plane_type`).
///
/// Only primary planes so far: overlay and cursor planes (and the CRTCs they may be used on)
/// come with the first driver that has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneType {
    /// The plane a CRTC scans out below all others; each CRTC has exactly one.
    Primary,
}

impl PlaneType {
    fn as_raw(self) -> bindings::drm_plane_type {
        match self {
            Self::Primary => bindings::drm_plane_type_DRM_PLANE_TYPE_PRIMARY,
        }
    }
}

/// The atomic state type of a plane: [`PlaneState`], or a helper's state that embeds it.
///
/// Sealed: an implementation supplies the C state hooks (`atomic_create_state` and its kin)
/// and casts C state pointers to itself, which only the kernel crate can vouch for.
pub trait State: private::Sealed + AsRef<PlaneState> {}

pub(crate) mod private {
    use super::*;

    /// What a plane [`State`] type brings to its plane.
    pub trait Sealed: Sized {
        /// Data the state's hooks keep per plane.
        type PlaneData: Send + Sync;

        /// Initialises the per-plane data.
        fn plane_data() -> impl PinInit<Self::PlaneData>;

        /// The state members of `struct drm_plane_funcs` (`atomic_create_state`,
        /// `atomic_duplicate_state`, `atomic_destroy_state`); all others are `None`.
        const FUNCS: bindings::drm_plane_funcs;

        /// `end_fb_access` of `struct drm_plane_helper_funcs`.
        const END_FB_ACCESS: Option<
            unsafe extern "C" fn(*mut bindings::drm_plane, *mut bindings::drm_plane_state),
        >;

        /// Whether the state has a `begin_fb_access` hook ([`Sealed::begin_fb_access`]).
        const HAS_BEGIN_FB_ACCESS: bool;

        /// The `begin_fb_access` hook.
        ///
        /// # Safety
        ///
        /// `plane` is the plane `data` belongs to and `state` a new state of it, as the atomic
        /// helpers pass them.
        unsafe fn begin_fb_access(
            _data: &Self::PlaneData,
            _plane: *mut bindings::drm_plane,
            _state: *mut bindings::drm_plane_state,
        ) -> c_int {
            0
        }

        /// # Safety
        ///
        /// `ptr` must be the `struct drm_plane_state` of a state of this type that outlives
        /// `'a` and is not changed during `'a`.
        unsafe fn from_raw<'a>(ptr: *mut bindings::drm_plane_state) -> &'a Self;
    }
}

/// Driver data and hooks of a plane.
#[vtable]
pub trait DriverPlane: Send + Sync + Sized {
    /// The driver this plane belongs to.
    type Driver: KmsDriver;

    /// The plane's atomic state: [`PlaneState`], or e.g.
    /// [`ShadowPlaneState`](super::gem_atomic_helper::ShadowPlaneState).
    type State: State;

    /// Checks a new plane state. The default accepts unscaled framebuffers covering the whole
    /// CRTC, which must be on ([`PlaneCheck::check_plane_state`]).
    fn atomic_check(
        _plane: &Plane<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        check: &mut PlaneCheck<'_, Self::State>,
    ) -> Result {
        check.check_plane_state(CheckFlags::empty())
    }

    /// Applies a new plane state to the hardware.
    ///
    /// `old` and `new` are the states before and after the commit.
    fn atomic_update(
        plane: &Plane<Self>,
        dev: &drm::Device<Self::Driver, Ioctl>,
        old: &Self::State,
        new: &Self::State,
    );

    /// Whether `drm_panic` may draw on this plane: into the memory the driver records as being
    /// on screen with [`Plane::set_panic_scanout`], in the format of the plane's current
    /// framebuffer.
    ///
    /// No driver code runs in panic context: the panic handler only reads what was recorded.
    const PANIC_SCANOUT: bool = false;
}

/// A plane (`struct drm_plane`) with driver data `T`.
///
/// # Invariants
///
/// `plane` is an initialised `struct drm_plane` whose `funcs` are `Plane::FUNCS`; the object
/// was allocated by [`Plane::new`] and is freed by the DRM core through the `destroy` hook when
/// the device goes away.
#[repr(C)]
#[pin_data]
pub struct Plane<T: DriverPlane> {
    #[pin]
    plane: Opaque<bindings::drm_plane>,
    /// What the state type keeps per plane.
    #[pin]
    state_data: <T::State as private::Sealed>::PlaneData,
    /// What `drm_panic` draws into.
    panic: PanicScanout,
    #[pin]
    inner: T,
}

impl<T: DriverPlane> Plane<T> {
    const FUNCS: bindings::drm_plane_funcs = bindings::drm_plane_funcs {
        update_plane: Some(bindings::drm_atomic_helper_update_plane),
        disable_plane: Some(bindings::drm_atomic_helper_disable_plane),
        destroy: Some(Self::destroy_callback),
        ..<T::State as private::Sealed>::FUNCS
    };

    const HELPER_FUNCS: bindings::drm_plane_helper_funcs = bindings::drm_plane_helper_funcs {
        begin_fb_access: if <T::State as private::Sealed>::HAS_BEGIN_FB_ACCESS {
            Some(Self::begin_fb_access_callback)
        } else {
            None
        },
        end_fb_access: <T::State as private::Sealed>::END_FB_ACCESS,
        atomic_check: Some(Self::atomic_check_callback),
        atomic_update: Some(Self::atomic_update_callback),
        get_scanout_buffer: if T::PANIC_SCANOUT {
            Some(Self::get_scanout_buffer_callback)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    /// Creates a plane of `kind` scanning out `formats`, with damage clips enabled.
    ///
    /// A plane with formats that have alpha gets the blend mode property, offering
    /// premultiplied alpha only: the blending KMS assumes for a plane without the property.
    ///
    /// The plane can be used by the CRTC created with it ([`super::crtc::Crtc::new`]).
    ///
    /// Fails with `EINVAL` for no formats or more than 64 (the DRM core keeps a format per bit
    /// of a `u64`), and with `ENOSPC` for a 33rd plane.
    pub fn new<'a>(
        mc: &'a ModeConfig<T::Driver>,
        kind: PlaneType,
        formats: &'static [Format],
        init: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        if formats.is_empty() || formats.len() > 64 {
            dev_err!(mc.parent(), "a plane with {} formats\n", formats.len());
            return Err(EINVAL);
        }
        mc.check_room("plane", |config| config.num_total_plane)?;
        let init = try_pin_init!(Self {
            plane <- Opaque::init_zeroed(),
            state_data <- <T::State as private::Sealed>::plane_data(),
            panic: PanicScanout::new(),
            inner <- init,
        });
        let register = |raw: *mut Self| {
            // SAFETY: `raw` is a valid allocation.
            let plane = unsafe { Opaque::cast_into(&raw const (*raw).plane) };
            // SAFETY: The device is unregistered and its mode configuration initialised (`mc`);
            // `plane` is zeroed memory; `formats` (of the transparent `Format`, hence `u32`
            // codes) are `'static`. The vtables outlive the device, as a connector's do
            // (`Connector::new`).
            to_result(unsafe {
                bindings::drm_universal_plane_init(
                    mc.as_raw(),
                    plane,
                    0,
                    &Self::FUNCS,
                    formats.as_ptr().cast(),
                    formats.len().try_into()?,
                    ptr::null(),
                    kind.as_raw(),
                    ptr::null(),
                )
            })?;
            // SAFETY: `plane` is initialised; the helper vtable outlives the device (as above).
            unsafe {
                bindings::drm_plane_helper_add(plane, &Self::HELPER_FUNCS);
                bindings::drm_plane_enable_fb_damage_clips(plane);
            }
            if Format::any_has_alpha(formats) {
                // SAFETY: `plane` is initialised and not registered yet.
                let ret = unsafe {
                    bindings::drm_plane_create_blend_mode_property(
                        plane,
                        bit_u32(bindings::DRM_MODE_BLEND_PREMULTI),
                    )
                };
                if let Err(e) = to_result(ret) {
                    // SAFETY: Takes the plane off the device again before its memory is freed.
                    unsafe { bindings::drm_plane_cleanup(plane) };
                    return Err(e);
                }
            }
            Ok(())
        };
        // SAFETY: Only `destroy_callback` frees the plane, and the DRM core calls it when the
        // device is released; when `register` fails, the plane is not on the device.
        unsafe { mc.new_object(init, register) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_plane {
        self.plane.get()
    }

    /// The device of the plane, as the C object records it.
    pub(crate) fn dev_raw(&self) -> *mut bindings::drm_device {
        // SAFETY: The plane is initialised (type invariant); `dev` never changes.
        unsafe { (*self.as_raw()).dev }
    }

    /// # Safety
    ///
    /// `ptr` must point to the `plane` member of a live `Plane<T>`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_plane) -> &'a Self {
        // SAFETY: Guaranteed by the caller.
        unsafe { &*container_of!(Opaque::cast_from(ptr), Self, plane) }
    }

    /// The driver data.
    pub fn data(&self) -> &T {
        &self.inner
    }

    /// What the state type keeps for this plane.
    pub(crate) fn state_data(&self) -> &<T::State as private::Sealed>::PlaneData {
        &self.state_data
    }

    /// Records where the plane's image is on screen, for `drm_panic` to draw into (for planes
    /// with [`DriverPlane::PANIC_SCANOUT`]): `locate` gets the registration data of `dev` and
    /// returns the memory scanned out, the offset of the image in it and its bytes per line.
    ///
    /// The memory is borrowed from the registration data (or is `'static`), which outlives
    /// every point where the panic handler can run: the handler is removed when the device is
    /// unregistered, before the registration data is dropped. A mapping made for the call does
    /// not compile:
    ///
    /// ```ignore,compile_fail
    /// plane.set_panic_scanout(dev, |data| {
    ///     let local = data.bar.memremap(CachePolicy::WriteBack)?;
    ///     // error[E0515]: cannot return value referencing local variable `local`
    ///     Ok((&local, 0, pitch))
    /// })
    /// ```
    ///
    /// (`ignore`: the kernel's doctests cannot check `compile_fail`.)
    ///
    /// Fails with `ENODEV` if the device is being unplugged, with `EINVAL` if `dev` is not the
    /// plane's device or the plane has recorded other memory before (a plane scans out of one
    /// memory), with `ERANGE` if the offset is not below the memory's size or 4 GiB, or what
    /// `locate` fails with.
    pub fn set_panic_scanout<F>(&self, dev: &drm::Device<T::Driver, Ioctl>, locate: F) -> Result
    where
        F: for<'a> FnOnce(
            &'a <T::Driver as drm::Driver>::RegistrationData<'a>,
        ) -> Result<(&'a MemRemap<'a>, usize, u32)>,
    {
        if !ptr::eq(dev.as_raw(), self.dev_raw()) {
            return Err(EINVAL);
        }
        dev.with_registration_data(|data| {
            let (mem, start, pitch) = locate(data)?;
            self.panic.record(mem, start, pitch)
        })
        .ok_or(ENODEV)?
    }

    /// # Safety
    ///
    /// `plane` must be a plane made by [`Plane::new`], whose device has been registered.
    unsafe fn ioctl_dev<'a>(plane: *mut bindings::drm_plane) -> &'a drm::Device<T::Driver, Ioctl> {
        // SAFETY: See the module documentation of `kms`: hooks that reach hardware run only for
        // registered devices.
        unsafe { drm::Device::from_raw((*plane).dev) }
    }

    extern "C" fn destroy_callback(plane: *mut bindings::drm_plane) {
        // SAFETY: The DRM core calls this once, when the device goes away; `plane` was made by
        // `new`.
        unsafe { bindings::drm_plane_cleanup(plane) };
        // SAFETY: `plane` is the first member of a `Plane<T>` allocated by `new`, which
        // nothing references any longer.
        drop(unsafe {
            KBox::from_raw(container_of!(Opaque::cast_from(plane), Self, plane).cast_mut())
        });
    }

    extern "C" fn begin_fb_access_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_plane_state,
    ) -> c_int {
        // SAFETY: The atomic helpers call this with a valid plane of a `Plane<T>` and a new state
        // of it.
        unsafe {
            let this = Self::from_raw(plane);
            <T::State as private::Sealed>::begin_fb_access(this.state_data(), plane, state)
        }
    }

    extern "C" fn atomic_check_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_atomic_commit,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The atomic helpers call this with valid pointers, during the check phase,
            // for a plane that is part of the commit, so it has an old and a new state; the new
            // one is changed only by this thread until the commit is checked.
            let (old, new, crtc_state) = unsafe {
                let old = bindings::drm_atomic_get_old_plane_state(state, plane);
                let new = bindings::drm_atomic_get_new_plane_state(state, plane);
                // The new state is a copy of the current one: the flag of `damage_whole_plane`
                // would stick for all commits to come.
                (*new).ignore_damage_clips = false;
                let crtc = (*new).crtc;
                let crtc_state = if crtc.is_null() {
                    ptr::null_mut()
                } else {
                    bindings::drm_atomic_get_new_crtc_state(state, crtc)
                };
                (old, new, crtc_state)
            };
            let mut check = PlaneCheck {
                // SAFETY: Plane states of this plane, hence of type `T::State`.
                state: unsafe { <T::State as private::Sealed>::from_raw(new) },
                // SAFETY: As above.
                old: unsafe { <T::State as private::Sealed>::from_raw(old) },
                crtc_state,
            };
            // SAFETY: `plane` belongs to a `Plane<T>`; atomic checks only happen on registered
            // devices.
            let (this, dev) = unsafe { (Self::from_raw(plane), Self::ioctl_dev(plane)) };
            if dev.registration_guard().is_none() {
                // Unplugged: the only commit left is the teardown's shutdown, which must not
                // fail on a driver's rule, or the display (and its vblank timer) stays on.
                check.check_plane_state(CheckFlag::CanPosition | CheckFlag::CanUpdateDisabled)?;
                return Ok(0);
            }
            T::atomic_check(this, dev, &mut check)?;
            Ok(0)
        })
    }

    extern "C" fn atomic_update_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: The commit helpers call this with valid pointers; both states exist in the
        // commit since the plane is part of it, and they are states of this plane.
        let (old, new) = unsafe {
            (
                <T::State as private::Sealed>::from_raw(bindings::drm_atomic_get_old_plane_state(
                    state, plane,
                )),
                <T::State as private::Sealed>::from_raw(bindings::drm_atomic_get_new_plane_state(
                    state, plane,
                )),
            )
        };
        // SAFETY: `plane` belongs to a `Plane<T>` of a registered device.
        let (this, dev) = unsafe { (Self::from_raw(plane), Self::ioctl_dev(plane)) };
        T::atomic_update(this, dev, old, new);
    }

    extern "C" fn get_scanout_buffer_callback(
        plane: *mut bindings::drm_plane,
        sb: *mut bindings::drm_scanout_buffer,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `plane` belongs to a `Plane<T>` whose device is registered: the handler
            // is only installed for registered devices.
            let (this, dev) = unsafe { (Self::from_raw(plane), Self::ioctl_dev(plane)) };
            // The registration data, and with it the memory recorded, is alive while the guard
            // is held (SRCU, usable in panic context). `drm_panic` draws after this returns:
            // then other CPUs are stopped (a panic) or the debugfs trigger runs, and the
            // teardown's `drm_dev_unregister()` removes both before the data can be dropped.
            let _guard = dev.registration_guard().ok_or(ENODEV)?;
            // SAFETY: `plane` is valid; in panic context its state is read without locks, as
            // the C helpers do.
            let current = unsafe { (*plane).state };
            if current.is_null() {
                return Err(ENODEV);
            }
            // SAFETY: A state of this plane.
            let current = unsafe { <T::State as private::Sealed>::from_raw(current) };
            let fb = current.as_ref().fb().ok_or(ENODEV)?;
            // SAFETY: The guard is held.
            let (vaddr, pitch) = unsafe { this.panic.image(fb)? };
            // SAFETY: `drm_panic` passes a buffer description to fill in.
            let sb = unsafe { &mut *sb };
            sb.format = fb.raw().format;
            sb.width = fb.width();
            sb.height = fb.height();
            sb.pitch[0] = pitch;
            // `is_iomem == false` selects the `vaddr` member of the union.
            sb.map[0] = bindings::iosys_map {
                __bindgen_anon_1: bindings::iosys_map__bindgen_ty_1 {
                    vaddr: vaddr.cast(),
                },
                is_iomem: false,
            };
            Ok(0)
        })
    }
}

/// Where `drm_panic` draws for a plane: the memory on screen and the image's place in it, as
/// recorded by [`Plane::set_panic_scanout`], read without locks by the panic handler.
///
/// # Invariants
///
/// `mem` is 0 or the address of a [`MemRemap`] of the device's registration data (which stays
/// alive, and mapped, as long as the registration data), set once. `image` holds the offset
/// of the image (high 32 bits, below the mapping's size) and its pitch (low 32 bits), in one
/// word so the handler never sees the offset of one record with the pitch of another.
struct PanicScanout {
    mem: Atomic<usize>,
    image: Atomic<u64>,
}

impl PanicScanout {
    const fn new() -> Self {
        Self {
            mem: Atomic::new(0),
            image: Atomic::new(0),
        }
    }

    /// Records that the image starts at `start` in `mem`, `pitch` bytes per line.
    fn record(&self, mem: &MemRemap<'_>, start: usize, pitch: u32) -> Result {
        let offset = u32::try_from(start).map_err(|_| ERANGE)?;
        if start >= mem.size() {
            return Err(ERANGE);
        }
        let addr = ptr::from_ref(mem).expose_provenance();
        // INVARIANT: `mem` is the registration data's (see `Plane::set_panic_scanout`); the
        // first record wins, and a plane scans out of one memory.
        match self.mem.cmpxchg(0, addr, Release) {
            Ok(_) => {}
            Err(current) if current == addr => {}
            Err(_) => return Err(EINVAL),
        }
        self.image
            .store((u64::from(offset) << 32) | u64::from(pitch), Relaxed);
        Ok(())
    }

    /// The address of the image of `fb` in the memory recorded, and its pitch, if the image
    /// fits there (`ERANGE` otherwise); `ENODEV` if nothing was recorded.
    ///
    /// # Safety
    ///
    /// The registration data of the plane's device is alive.
    unsafe fn image(&self, fb: &Framebuffer) -> Result<(*mut u8, u32)> {
        let addr = self.mem.load(Acquire);
        if addr == 0 {
            return Err(ENODEV);
        }
        // SAFETY: `addr` is a `MemRemap` of the registration data (type invariant), which the
        // caller guarantees is alive.
        let mem = unsafe { &*ptr::with_exposed_provenance::<MemRemap<'_>>(addr) };
        let image = self.image.load(Relaxed);
        let (start, pitch) = ((image >> 32) as usize, image as u32);
        let end = (pitch as usize)
            .checked_mul(fb.height() as usize)
            .and_then(|len| len.checked_add(start))
            .ok_or(ERANGE)?;
        if end > mem.size() || u64::from(pitch) < u64::from(fb.width()) * u64::from(fb.cpp()) {
            return Err(ERANGE);
        }
        // SAFETY: `start < end <= size`: the offset lies inside the mapping.
        Ok((unsafe { mem.as_ptr().add(start) }, pitch))
    }
}

// SAFETY: The C object is only changed under DRM's modeset locks; driver data and the state
// type's plane data are `Send`.
unsafe impl<T: DriverPlane> Send for Plane<T> {}
// SAFETY: As above; driver data and the state type's plane data are `Sync`.
unsafe impl<T: DriverPlane> Sync for Plane<T> {}

/// A framebuffer (`struct drm_framebuffer`), read-only.
///
/// # Invariants
///
/// `self.0` is a valid framebuffer with a format; its geometry does not change while it exists.
#[repr(transparent)]
pub struct Framebuffer(Opaque<bindings::drm_framebuffer>);

impl Framebuffer {
    pub(super) fn raw(&self) -> &bindings::drm_framebuffer {
        // SAFETY: Valid by the type invariant; the fields read here are immutable after creation.
        unsafe { &*self.0.get() }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.raw().width
    }

    /// Height in lines.
    pub fn height(&self) -> u32 {
        self.raw().height
    }

    /// Bytes per line of colour plane `index` (0 for single-plane formats).
    pub fn pitch(&self, index: usize) -> u32 {
        self.raw().pitches.get(index).copied().unwrap_or(0)
    }

    /// The pixel format.
    pub fn format(&self) -> Format {
        // SAFETY: A framebuffer always has a format (type invariant).
        Format::from_raw(unsafe { (*self.raw().format).format })
    }

    /// The number of colour planes of the format.
    pub(super) fn num_planes(&self) -> u8 {
        // SAFETY: A framebuffer always has a format (type invariant).
        unsafe { (*self.raw().format).num_planes }
    }

    /// Bytes per pixel of the first colour plane, 0 for block formats.
    pub fn cpp(&self) -> u32 {
        // SAFETY: As above; `cpp` shares a union with another `u8` array, so any bytes are valid.
        unsafe { (*self.raw().format).__bindgen_anon_1.cpp[0] }.into()
    }
}

/// The atomic state of a plane (`struct drm_plane_state`), read-only.
///
/// # Invariants
///
/// `self.0` is a valid plane state, not changed while borrowed except through
/// [`PlaneCheck`] during the check phase.
#[repr(transparent)]
pub struct PlaneState(Opaque<bindings::drm_plane_state>);

impl State for PlaneState {}

impl private::Sealed for PlaneState {
    type PlaneData = ();

    fn plane_data() -> impl PinInit<()> {}

    const FUNCS: bindings::drm_plane_funcs = bindings::drm_plane_funcs {
        atomic_create_state: Some(bindings::drm_atomic_helper_plane_create_state),
        atomic_duplicate_state: Some(bindings::drm_atomic_helper_plane_duplicate_state),
        atomic_destroy_state: Some(bindings::drm_atomic_helper_plane_destroy_state),
        ..pin_init::zeroed()
    };

    const END_FB_ACCESS: Option<
        unsafe extern "C" fn(*mut bindings::drm_plane, *mut bindings::drm_plane_state),
    > = None;

    const HAS_BEGIN_FB_ACCESS: bool = false;

    /// # Safety
    ///
    /// As for [`private::Sealed::from_raw`].
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_plane_state) -> &'a Self {
        // SAFETY: Guaranteed by the caller; `Self` is transparent.
        unsafe { &*ptr.cast() }
    }
}

impl AsRef<PlaneState> for PlaneState {
    fn as_ref(&self) -> &PlaneState {
        self
    }
}

impl PlaneState {
    pub(crate) fn as_raw(&self) -> *mut bindings::drm_plane_state {
        self.0.get()
    }

    fn base(&self) -> &bindings::drm_plane_state {
        // SAFETY: Valid by the type invariant; hooks see states that are not being changed.
        unsafe { &*self.as_raw() }
    }

    /// The framebuffer, if the plane has one.
    pub fn fb(&self) -> Option<&Framebuffer> {
        let fb = self.base().fb;
        // SAFETY: The state holds a reference on its framebuffer.
        (!fb.is_null()).then(|| unsafe { &*fb.cast::<Framebuffer>() })
    }

    /// Horizontal position on the CRTC.
    pub fn crtc_x(&self) -> i32 {
        self.base().crtc_x
    }

    /// Vertical position on the CRTC.
    pub fn crtc_y(&self) -> i32 {
        self.base().crtc_y
    }

    /// Whether the plane is visible (set by the atomic check).
    pub fn visible(&self) -> bool {
        self.base().visible
    }
}

impl_flags!(
    /// What [`PlaneCheck::check_plane_state`] lets a plane do.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct CheckFlags(u32);

    /// One permission of [`CheckFlags`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum CheckFlag {
        /// The plane may cover part of the CRTC (`can_position`); without it, it must cover
        /// the whole CRTC.
        CanPosition = bit_u32(0),
        /// A framebuffer may stay on the plane of a CRTC being turned off, the plane then being
        /// invisible (`can_update_disabled`); without it, such a commit fails with `EINVAL`.
        CanUpdateDisabled = bit_u32(1),
    }
);

/// A new plane state being checked, with the state of the CRTC it goes to.
pub struct PlaneCheck<'a, S> {
    state: &'a S,
    old: &'a S,
    crtc_state: *mut bindings::drm_crtc_state,
}

impl<'a, S: State> PlaneCheck<'a, S> {
    /// The new plane state.
    pub fn state(&self) -> &S {
        self.state
    }

    /// The plane's state before the commit.
    pub fn old_state(&self) -> &'a S {
        self.old
    }

    /// The new state, for the accessors of state types that let a check change their data.
    pub(super) fn new_state(&self) -> &'a S {
        self.state
    }

    /// The new state of the CRTC the plane goes to, if it goes to one.
    pub fn crtc_state(&self) -> Option<&CrtcState> {
        // SAFETY: A new CRTC state of the commit being checked: the plane checks run before the
        // CRTC checks, so nothing changes it while `self` is borrowed.
        (!self.crtc_state.is_null()).then(|| unsafe { CrtcState::from_raw(self.crtc_state) })
    }

    /// Makes this update copy the whole plane, whatever damage clips userspace gave
    /// (`ignore_damage_clips`, which holds for this commit only): for when the image on screen
    /// is not the one the clips are relative to, e.g. when the plane was not shown before.
    pub fn damage_whole_plane(&mut self) {
        // SAFETY: The new state belongs to the commit being checked, which only this thread
        // changes during the check phase.
        unsafe { (*self.state.as_ref().as_raw()).ignore_damage_clips = true };
    }

    /// Checks that the framebuffer is not scaled and lies as `flags` allow
    /// (`drm_atomic_helper_check_plane_state()`); computes `visible` and the clipped
    /// rectangles.
    pub fn check_plane_state(&mut self, flags: CheckFlags) -> Result {
        // SAFETY: Both states belong to the commit being checked; `crtc_state` may be NULL.
        to_result(unsafe {
            bindings::drm_atomic_helper_check_plane_state(
                self.state.as_ref().as_raw(),
                self.crtc_state,
                NO_SCALING,
                NO_SCALING,
                flags.contains(CheckFlag::CanPosition),
                flags.contains(CheckFlag::CanUpdateDisabled),
            )
        })
    }
}
