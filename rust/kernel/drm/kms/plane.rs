// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Planes, their shadow-buffered atomic state, and framebuffers.
//!
//! C header: [`include/drm/drm_plane.h`](srctree/include/drm/drm_plane.h)

use super::{
    damage::{
        DamageCopy,
        DamageIter,
        Rect, //
    },
    KmsDriver,
    ModeConfig, //
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
    io::memremap::MemRemap,
    new_mutex,
    prelude::*,
    sync::Mutex,
    types::Opaque, //
};
use core::ptr;

/// `DRM_PLANE_NO_SCALING`: a 1:1 scaling factor in 16.16 fixed point.
const NO_SCALING: i32 = 1 << 16;

/// Driver data and hooks of a plane.
#[vtable]
pub trait DriverPlane: Send + Sync + Sized {
    /// The driver this plane belongs to.
    type Driver: KmsDriver;

    /// Checks a new plane state; the default accepts unscaled, full-screen framebuffers on a
    /// CRTC that is on (`drm_atomic_helper_check_plane_state()` with no scaling, no
    /// positioning and no updates of a disabled CRTC).
    fn atomic_check(_plane: &Plane<Self>, check: &mut PlaneCheck<'_>) -> Result {
        check.check_no_scaling(false, false)
    }

    /// Applies a new plane state to the hardware.
    ///
    /// `old` and `new` are the states before and after the commit; the framebuffer of `new` is
    /// mapped, so [`PlaneState::copy_clip`] can move its damaged parts to scanout memory.
    fn atomic_update(
        plane: &Plane<Self>,
        dev: &drm::Device<Self::Driver, Ioctl>,
        old: &PlaneState,
        new: &PlaneState,
    );

    /// Describes the memory scanned out now, for `drm_panic` to draw into.
    ///
    /// Runs in panic context: no sleeping, no locks. `current` is the plane's current state, read
    /// without locks as the panic handler does.
    fn get_scanout_buffer(
        _plane: &Plane<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        _current: &PlaneState,
        _sb: &mut ScanoutBuffer<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A plane (`struct drm_plane`) with driver data `T`.
///
/// # Invariants
///
/// `plane` is an initialised `struct drm_plane` whose `funcs` are `Plane::FUNCS`; the object
/// was allocated by [`Plane::new_primary`] and is freed by the DRM core through the `destroy`
/// hook when the device goes away.
#[repr(C)]
#[pin_data]
pub struct Plane<T: DriverPlane> {
    #[pin]
    plane: Opaque<bindings::drm_plane>,
    /// The framebuffer scanned out, kept mapped between commits.
    #[pin]
    kept: Mutex<Option<KeptMap>>,
    #[pin]
    inner: T,
}

/// A framebuffer reference together with a kernel mapping of its buffers.
///
/// The shadow-plane helpers map a plane's framebuffer before every commit and unmap it after.
/// Mapping a large shared-memory buffer means setting up and tearing down page tables (and
/// flushing the TLB) for every page of it. While a plane holds one of these, the per-commit
/// mapping only takes another reference on this one: clients that keep drawing into the
/// buffer on screen and report damage (fbdev, Xorg's shadow front buffer) map it once.
///
/// Only the framebuffer being put on screen is kept, so a framebuffer that userspace removes
/// is not held beyond the commit that takes it off the plane.
///
/// # Invariants
///
/// `fb` is a framebuffer on which this object holds a reference, and `map` its mapping made by
/// `drm_gem_fb_vmap()`; both are released on drop.
struct KeptMap {
    fb: *mut bindings::drm_framebuffer,
    map: [bindings::iosys_map; bindings::DRM_FORMAT_MAX_PLANES as usize],
}

impl KeptMap {
    /// Takes a reference on `fb` and maps it, or returns `None` if it cannot be mapped.
    ///
    /// # Safety
    ///
    /// `fb` must be a valid framebuffer made from GEM objects.
    unsafe fn new(fb: *mut bindings::drm_framebuffer) -> Option<Self> {
        let mut map = [bindings::iosys_map::default(); bindings::DRM_FORMAT_MAX_PLANES as usize];
        // SAFETY: `fb` is valid (guaranteed by the caller); `drm_framebuffer_get()`.
        unsafe { bindings::drm_mode_object_get(&raw mut (*fb).base) };
        // SAFETY: `fb` is valid and made from GEM objects; `map` has room for every colour plane.
        if unsafe { bindings::drm_gem_fb_vmap(fb, map.as_mut_ptr(), ptr::null_mut()) } != 0 {
            // SAFETY: Drops the reference taken above (`drm_framebuffer_put()`).
            unsafe { bindings::drm_mode_object_put(&raw mut (*fb).base) };
            return None;
        }
        // INVARIANT: A reference on `fb` was taken and `map` is its mapping.
        Some(Self { fb, map })
    }
}

impl Drop for KeptMap {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `map` was made by `drm_gem_fb_vmap()` for `fb`, on which
        // we hold a reference until just after.
        unsafe {
            bindings::drm_gem_fb_vunmap(self.fb, self.map.as_mut_ptr());
            bindings::drm_mode_object_put(&raw mut (*self.fb).base);
        }
    }
}

// SAFETY: The references and the mapping may be released from any thread.
unsafe impl Send for KeptMap {}

impl<T: DriverPlane> Plane<T> {
    const FUNCS: bindings::drm_plane_funcs = bindings::drm_plane_funcs {
        update_plane: Some(bindings::drm_atomic_helper_update_plane),
        disable_plane: Some(bindings::drm_atomic_helper_disable_plane),
        destroy: Some(Self::destroy_callback),
        atomic_create_state: Some(Self::create_state_callback),
        atomic_duplicate_state: Some(bindings::drm_gem_duplicate_shadow_plane_state),
        atomic_destroy_state: Some(bindings::drm_gem_destroy_shadow_plane_state),
        // SAFETY: All other members are optional function pointers, for which zero is `None`.
        ..unsafe { core::mem::zeroed() }
    };

    const HELPER_FUNCS: bindings::drm_plane_helper_funcs = bindings::drm_plane_helper_funcs {
        begin_fb_access: Some(Self::begin_fb_access_callback),
        end_fb_access: Some(bindings::drm_gem_end_shadow_fb_access),
        atomic_check: Some(Self::atomic_check_callback),
        atomic_update: Some(Self::atomic_update_callback),
        get_scanout_buffer: if T::HAS_GET_SCANOUT_BUFFER {
            Some(Self::get_scanout_buffer_callback)
        } else {
            None
        },
        // SAFETY: All other members are optional function pointers, for which zero is `None`.
        ..unsafe { core::mem::zeroed() }
    };

    /// Creates the primary plane, scanning out `formats`, with damage clips enabled.
    pub fn new_primary<'a>(
        mc: &ModeConfig<'a, T::Driver>,
        formats: &'static [u32],
        init: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let init = try_pin_init!(Self {
            plane <- Opaque::init_zeroed(),
            kept <- new_mutex!(None, "Plane::kept"),
            inner <- init,
        });
        let register = |raw: *mut Self| {
            // SAFETY: `raw` is a valid allocation.
            let plane = unsafe { Opaque::cast_into(&raw const (*raw).plane) };
            // SAFETY: The device is unregistered and its mode configuration initialised (`mc`);
            // `plane` is zeroed memory; `formats` and the vtable are `'static`.
            to_result(unsafe {
                bindings::drm_universal_plane_init(
                    mc.as_raw(),
                    plane,
                    0,
                    &Self::FUNCS,
                    formats.as_ptr(),
                    formats.len().try_into()?,
                    ptr::null(),
                    bindings::drm_plane_type_DRM_PLANE_TYPE_PRIMARY,
                    ptr::null(),
                )
            })?;
            // SAFETY: `plane` is initialised; the helper vtable is `'static`.
            unsafe {
                bindings::drm_plane_helper_add(plane, &Self::HELPER_FUNCS);
                bindings::drm_plane_enable_fb_damage_clips(plane);
            }
            Ok(())
        };
        // SAFETY: Only `destroy_callback` frees the plane, and the DRM core calls it when the
        // device is released.
        unsafe { mc.new_object(init, register) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_plane {
        self.plane.get()
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

    /// The device this plane belongs to.
    pub fn drm(&self) -> &drm::Device<T::Driver> {
        // SAFETY: `dev` is set at init and outlives the plane.
        unsafe { drm::Device::from_raw((*self.as_raw()).dev) }
    }

    /// # Safety
    ///
    /// `plane` must be a plane made by [`Plane::new_primary`], whose device has been registered.
    unsafe fn ioctl_dev<'a>(plane: *mut bindings::drm_plane) -> &'a drm::Device<T::Driver, Ioctl> {
        // SAFETY: See the module documentation: hooks that reach hardware run only for registered
        // devices.
        unsafe { drm::Device::from_raw((*plane).dev) }
    }

    extern "C" fn destroy_callback(plane: *mut bindings::drm_plane) {
        // SAFETY: The DRM core calls this once, when the device goes away; `plane` was made by
        // `new_primary`.
        unsafe { bindings::drm_plane_cleanup(plane) };
        // SAFETY: `plane` is the first member of a `Plane<T>` allocated by `new_primary`, which
        // nothing references any longer.
        drop(unsafe {
            KBox::from_raw(container_of!(Opaque::cast_from(plane), Self, plane).cast_mut())
        });
    }

    /// Keeps `fb`, which the plane is about to scan out, mapped for this and later commits, in
    /// place of the one kept before; keeps nothing when the plane goes dark.
    ///
    /// # Safety
    ///
    /// `fb` must be NULL or a valid framebuffer made from GEM objects.
    unsafe fn keep_mapped(&self, fb: *mut bindings::drm_framebuffer) {
        let mut kept = self.kept.lock();
        if kept.as_ref().is_some_and(|k| k.fb == fb) {
            return;
        }
        // Unmaps the previous one (the commits using it hold mappings of their own).
        *kept = None;
        if !fb.is_null() {
            // Best effort: if it cannot be mapped now, each commit maps it (or fails) as usual.
            // SAFETY: `fb` is valid (guaranteed by the caller).
            *kept = unsafe { KeptMap::new(fb) };
        }
    }

    extern "C" fn begin_fb_access_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_plane_state,
    ) -> c_int {
        // SAFETY: The atomic helpers call this with a valid plane of a `Plane<T>` and a new state
        // of it, whose framebuffer, if any, is made from GEM objects (the only kind this module's
        // drivers create).
        unsafe {
            Self::from_raw(plane).keep_mapped((*state).fb);
            bindings::drm_gem_begin_shadow_fb_access(plane, state)
        }
    }

    extern "C" fn create_state_callback(
        plane: *mut bindings::drm_plane,
    ) -> *mut bindings::drm_plane_state {
        // SAFETY: All-zero is the pristine value of the C struct (what `kzalloc()` gives).
        let zeroed: bindings::drm_shadow_plane_state = unsafe { core::mem::zeroed() };
        let Ok(state) = KBox::new(zeroed, GFP_KERNEL) else {
            return ENOMEM.to_ptr();
        };
        let state = KBox::into_raw(state);
        // SAFETY: `state` is valid; `plane` is a valid plane. The state is released by
        // `drm_gem_destroy_shadow_plane_state()`, which `kfree()`s it, matching `KBox`.
        unsafe {
            bindings::__drm_atomic_helper_plane_state_init(&raw mut (*state).base, plane);
            &raw mut (*state).base
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
                // SAFETY: Plane states of this plane, hence shadow-buffered.
                state: unsafe { PlaneState::from_raw(new) },
                // SAFETY: As above.
                old: unsafe { PlaneState::from_raw(old) },
                crtc_state,
            };
            // SAFETY: `plane` belongs to a `Plane<T>`.
            T::atomic_check(unsafe { Self::from_raw(plane) }, &mut check)?;
            Ok(0)
        })
    }

    extern "C" fn atomic_update_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: The commit helpers call this with valid pointers; both states exist in the
        // commit since the plane is part of it, and they are plane states of this plane.
        let (old, new) = unsafe {
            (
                PlaneState::from_raw(bindings::drm_atomic_get_old_plane_state(state, plane)),
                PlaneState::from_raw(bindings::drm_atomic_get_new_plane_state(state, plane)),
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
            // SAFETY: `plane` is valid; in panic context its state is read without locks, as
            // the C helpers do.
            let current = unsafe { (*plane).state };
            if current.is_null() {
                return Err(ENODEV);
            }
            // SAFETY: A plane state of this plane.
            let current = unsafe { PlaneState::from_raw(current) };
            let mut sb = ScanoutBuffer {
                // SAFETY: `drm_panic` passes a valid buffer description to fill in.
                sb: unsafe { &mut *sb },
            };
            // SAFETY: `plane` belongs to a `Plane<T>` of a registered device.
            let (this, dev) = unsafe { (Self::from_raw(plane), Self::ioctl_dev(plane)) };
            T::get_scanout_buffer(this, dev, current, &mut sb)?;
            Ok(0)
        })
    }
}

// SAFETY: The C object is only changed under DRM's modeset locks; driver data is `Send`.
unsafe impl<T: DriverPlane> Send for Plane<T> {}
// SAFETY: As above; driver data is `Sync`.
unsafe impl<T: DriverPlane> Sync for Plane<T> {}

/// A framebuffer (`struct drm_framebuffer`), read-only.
///
/// # Invariants
///
/// `self.0` is a valid framebuffer with a format; its geometry does not change while it exists.
#[repr(transparent)]
pub struct Framebuffer(Opaque<bindings::drm_framebuffer>);

impl Framebuffer {
    fn raw(&self) -> &bindings::drm_framebuffer {
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

    /// The fourcc code of the pixel format.
    pub fn format(&self) -> u32 {
        // SAFETY: A framebuffer always has a format (type invariant).
        unsafe { (*self.raw().format).format }
    }

    /// Bytes per pixel of the first colour plane, 0 for block formats.
    pub fn cpp(&self) -> u32 {
        // SAFETY: As above; `cpp` shares a union with another `u8` array, so any bytes are valid.
        unsafe { (*self.raw().format).__bindgen_anon_1.cpp[0] }.into()
    }
}

/// The atomic state of a plane made by this module (`struct drm_shadow_plane_state`).
///
/// Besides the usual plane state it holds the kernel mapping of the framebuffer, valid while a
/// commit runs.
///
/// # Invariants
///
/// `self.0` is a valid `struct drm_shadow_plane_state`.
#[repr(transparent)]
pub struct PlaneState(Opaque<bindings::drm_shadow_plane_state>);

impl PlaneState {
    /// # Safety
    ///
    /// `ptr` must be the `base` of a valid `struct drm_shadow_plane_state` that outlives `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::drm_plane_state) -> &'a Self {
        // SAFETY: Guaranteed by the caller; `base` is the first member.
        unsafe { &*container_of!(ptr, bindings::drm_shadow_plane_state, base).cast() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_plane_state {
        // SAFETY: Valid by the type invariant.
        unsafe { &raw mut (*self.0.get()).base }
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

    /// Where the lines of `clip` are in the kernel mapping of the framebuffer.
    ///
    /// Fails with `EINVAL` if the plane has no single-plane framebuffer, or no kernel mapping of
    /// it (outside a commit), or if `clip` does not lie within the framebuffer.
    fn clip_source(&self, clip: &Rect) -> Result<ClipSource> {
        let fb = self.fb().ok_or(EINVAL)?;
        let cpp = fb.cpp() as usize;
        if cpp == 0 || !clip.is_within(fb.width(), fb.height()) {
            return Err(EINVAL);
        }
        // SAFETY: Valid by the type invariant.
        let map = unsafe { (*self.0.get()).data[0] };
        // SAFETY: `vaddr` and `vaddr_iomem` share storage; we only test it for NULL.
        let vaddr = unsafe { map.__bindgen_anon_1.vaddr };
        if map.is_iomem || vaddr.is_null() {
            return Err(EINVAL);
        }
        let pitch = fb.pitch(0) as usize;
        let (x, y) = (clip.x1 as usize, clip.y1 as usize);
        // INVARIANT: `data[0]` maps the whole first colour plane (the framebuffer was checked
        // against its GEM object when it was made) for as long as the commit, during which
        // this state is borrowed, runs; `clip` lies within the framebuffer, so every line
        // `i < rows` of `line` bytes at `ptr + i * pitch` is mapped.
        Ok(ClipSource {
            // SAFETY: The offset of `clip`'s first pixel, inside the mapping (see above).
            ptr: unsafe { vaddr.cast::<u8>().add(y * pitch + x * cpp) },
            pitch,
            line: clip.width() as usize * cpp,
            rows: clip.height() as usize,
            x_bytes: x * cpp,
            y,
        })
    }

    /// Copies what changed in the update from `old` to this state, one damage rectangle at a
    /// time, with `copy` (e.g. a call of [`PlaneState::copy_clip`]), which returns the bytes it
    /// copied; counts what was copied and what failed.
    ///
    /// A commit without damage information, or one that changes the framebuffer or the source
    /// rectangle, damages the whole plane (see [`DamageIter`]).
    pub fn copy_damage(
        &self,
        old: &PlaneState,
        mut copy: impl FnMut(&Rect) -> Result<usize>,
    ) -> DamageCopy {
        let mut done = DamageCopy::default();
        for clip in DamageIter::new(old, self) {
            done.add(&clip, copy(&clip));
        }
        done
    }

    /// Copies rectangle `clip` of the framebuffer to the same position in `dst`, an image with
    /// the framebuffer's pixel format and `dst_pitch` bytes per line starting at offset 0.
    ///
    /// Returns the number of bytes copied. Fails with `EINVAL` if the plane has no single-plane
    /// framebuffer, or no kernel mapping of it (outside a commit), or if `clip` does not lie
    /// within the framebuffer; with `ERANGE` if the destination does not fit into `dst`.
    pub fn copy_clip(&self, clip: &Rect, dst: &MemRemap<'_>, dst_pitch: usize) -> Result<usize> {
        let src = self.clip_source(clip)?;
        let dst_off = src.dst_offset(dst_pitch)?;
        // SAFETY: By the invariant of `ClipSource`, the `rows` source lines are mapped for the
        // duration of the commit, during which `self` is borrowed; they are framebuffer memory,
        // not the scanout mapping.
        unsafe { dst.copy_rows_from(dst_off, dst_pitch, src.ptr, src.pitch, src.line, src.rows)? };
        Ok(src.line * src.rows)
    }

    /// Like [`PlaneState::copy_clip`], into memory the kernel owns (e.g. a buffer of a virtual
    /// display): `dst` holds an image of `dst_pitch` bytes per line.
    pub fn copy_clip_to_slice(
        &self,
        clip: &Rect,
        dst: &mut [u8],
        dst_pitch: usize,
    ) -> Result<usize> {
        let src = self.clip_source(clip)?;
        let dst_off = src.dst_offset(dst_pitch)?;
        let end = super::damage::rows_end(dst_off, dst_pitch, src.line, src.rows).ok_or(ERANGE)?;
        if end > dst.len() {
            return Err(ERANGE);
        }
        let base = dst.as_mut_ptr();
        for i in 0..src.rows {
            // SAFETY: Source line `i` is mapped (invariant of `ClipSource`) and cannot overlap
            // `dst`, which is borrowed mutably; destination line `i` ends at or before
            // `end <= dst.len()`.
            unsafe {
                ptr::copy_nonoverlapping(
                    src.ptr.add(i * src.pitch),
                    base.add(dst_off + i * dst_pitch),
                    src.line,
                )
            };
        }
        Ok(src.line * src.rows)
    }
}

/// The lines of a damage rectangle in the kernel mapping of a framebuffer.
///
/// # Invariants
///
/// For every `i < rows`, `ptr + i * pitch .. + line` is mapped and readable while the plane
/// state it came from is borrowed.
struct ClipSource {
    ptr: *const u8,
    pitch: usize,
    line: usize,
    rows: usize,
    /// Position of the rectangle: byte offset within a line, and first line.
    x_bytes: usize,
    y: usize,
}

impl ClipSource {
    /// The offset of the rectangle in a destination image of `dst_pitch` bytes per line.
    fn dst_offset(&self, dst_pitch: usize) -> Result<usize> {
        self.y
            .checked_mul(dst_pitch)
            .and_then(|o| o.checked_add(self.x_bytes))
            .ok_or(ERANGE)
    }
}

/// A new plane state being checked, with the state of the CRTC it goes to.
pub struct PlaneCheck<'a> {
    state: &'a PlaneState,
    old: &'a PlaneState,
    crtc_state: *mut bindings::drm_crtc_state,
}

impl<'a> PlaneCheck<'a> {
    /// The new plane state.
    pub fn state(&self) -> &'a PlaneState {
        self.state
    }

    /// The plane's state before the commit.
    pub fn old_state(&self) -> &'a PlaneState {
        self.old
    }

    /// Makes this update copy the whole plane, whatever damage clips userspace gave
    /// (`ignore_damage_clips`, which holds for this commit only): for when the image on screen
    /// is not the one the clips are relative to, e.g. when the plane was not shown before.
    pub fn damage_whole_plane(&mut self) {
        // SAFETY: The new state belongs to the commit being checked, which only this thread
        // changes during the check phase.
        unsafe { (*self.state.as_raw()).ignore_damage_clips = true };
    }

    /// Checks that the framebuffer is not scaled and, unless `can_position`, covers the CRTC
    /// (`drm_atomic_helper_check_plane_state()`); computes `visible` and the clipped rectangles.
    ///
    /// With `can_update_disabled`, a framebuffer may stay on the plane of a CRTC being turned
    /// off (the plane is then not visible); without, such a commit fails with `EINVAL`.
    pub fn check_no_scaling(&mut self, can_position: bool, can_update_disabled: bool) -> Result {
        // SAFETY: Both states belong to the commit being checked; `crtc_state` may be NULL.
        to_result(unsafe {
            bindings::drm_atomic_helper_check_plane_state(
                self.state.as_raw(),
                self.crtc_state,
                NO_SCALING,
                NO_SCALING,
                can_position,
                can_update_disabled,
            )
        })
    }
}

/// The scanout buffer `drm_panic` draws into (`struct drm_scanout_buffer`).
pub struct ScanoutBuffer<'a> {
    sb: &'a mut bindings::drm_scanout_buffer,
}

impl ScanoutBuffer<'_> {
    /// Describes `mem` from offset 0 as holding `fb`'s image with `pitch` bytes per line.
    ///
    /// Fails with `ERANGE` if that image does not fit into `mem`.
    pub fn set(&mut self, fb: &Framebuffer, mem: &MemRemap<'_>, pitch: u32) -> Result {
        let size = (pitch as usize)
            .checked_mul(fb.height() as usize)
            .ok_or(ERANGE)?;
        if size > mem.size() || pitch < fb.width() * fb.cpp() {
            return Err(ERANGE);
        }
        let raw = fb.raw();
        self.sb.format = raw.format;
        self.sb.width = fb.width();
        self.sb.height = fb.height();
        self.sb.pitch[0] = pitch;
        // `is_iomem == false` selects the `vaddr` member of the union.
        self.sb.map[0] = bindings::iosys_map {
            __bindgen_anon_1: bindings::iosys_map__bindgen_ty_1 {
                vaddr: mem.as_ptr().cast(),
            },
            is_iomem: false,
        };
        Ok(())
    }
}
