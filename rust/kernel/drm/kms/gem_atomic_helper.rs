// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Shadow-buffered planes: the framebuffer mapped into the kernel for every commit, and its
//! damage copied from there into scanout memory.
//!
//! C header: [`include/drm/drm_gem_atomic_helper.h`](srctree/include/drm/drm_gem_atomic_helper.h)
//!
//! A plane whose [`DriverPlane::State`](super::plane::DriverPlane::State) is
//! [`ShadowPlaneState`] gets the hooks of `DRM_GEM_SHADOW_PLANE_FUNCS` and
//! `DRM_GEM_SHADOW_PLANE_HELPER_FUNCS`: the GEM framebuffer of every new state is mapped
//! (`drm_gem_begin_shadow_fb_access()`) for the duration of the commit, and the driver copies
//! the damaged parts of it where it scans out from ([`ShadowPlaneState::copy_damage`], with
//! `drm_fb_memcpy()`). This is the policy of drivers whose scanout memory the CPU writes:
//! virtual and emulated displays, and hardware that cannot scan out of system memory.
//!
//! `ShadowPlaneState<D>` is the state subclassed with driver data `D` (C drivers embed
//! `struct drm_shadow_plane_state` in a struct of their own for the same purpose): its hooks
//! wrap the `__drm_*` halves of `DRM_GEM_SHADOW_PLANE_FUNCS`'s around the driver data's
//! [`StateData::duplicate`] and drop (see [`state`](super::state)).
//!
//! On top of the C helpers, the framebuffer being put on screen stays mapped between commits
//! (see [`ShadowPlaneData`]).

use super::{
    damage::{
        DamageCopy,
        DamageIter,
        Rect, //
    },
    plane::{
        private::Sealed,
        PlaneCheck,
        PlaneState,
        State, //
    },
    state::{
        CState,
        StateData,
        Subclass, //
    },
};
use crate::{
    bindings,
    container_of,
    device,
    error::to_result,
    io::memremap::MemRemap,
    new_mutex,
    prelude::*,
    sync::Mutex,
    time::{
        Instant,
        Monotonic, //
    }, //
};
use core::{
    ptr,
    sync::atomic::{
        AtomicU64,
        Ordering, //
    },
};

/// The direction of the CPU's access to a framebuffer whose damage is copied out of it.
const FROM_DEVICE: bindings::dma_data_direction = bindings::dma_data_direction::DMA_FROM_DEVICE;

/// The state of a shadow-buffered plane (`struct drm_shadow_plane_state`), subclassed with
/// driver data `D` ([`StateData`]; none by default).
///
/// Besides the usual plane state (which it dereferences to) it holds the kernel mapping of the
/// framebuffer, valid while a commit runs, and the driver's data: what the driver's atomic
/// check decided for the commit ([`PlaneCheck::data_mut`]) and its atomic update reads
/// ([`ShadowPlaneState::data`]).
///
/// # Invariants
///
/// The state is a `Subclass` of `struct drm_shadow_plane_state` with `D`, not changed while
/// borrowed except through [`PlaneCheck::data_mut`].
#[repr(transparent)]
pub struct ShadowPlaneState<D: StateData = ()>(Subclass<bindings::drm_shadow_plane_state, D>);

// SAFETY: `base` is the first member of `struct drm_shadow_plane_state`; the functions are the
// `__drm_*` halves of the `DRM_GEM_SHADOW_PLANE_FUNCS` state hooks.
unsafe impl CState for bindings::drm_shadow_plane_state {
    type Object = bindings::drm_plane;
    type Base = bindings::drm_plane_state;

    /// # Safety
    ///
    /// As for `CState::base`.
    unsafe fn base(state: *mut Self) -> *mut bindings::drm_plane_state {
        // SAFETY: A projection inside the allocation the caller guarantees.
        unsafe { &raw mut (*state).base }
    }

    /// # Safety
    ///
    /// As for `CState::from_base`.
    unsafe fn from_base(base: *mut bindings::drm_plane_state) -> *mut Self {
        // SAFETY: The caller guarantees that `base` is the `base` of a `Self`.
        unsafe { container_of!(base, Self, base) }
    }

    /// # Safety
    ///
    /// As for `CState::current`.
    unsafe fn current(plane: *mut bindings::drm_plane) -> *mut bindings::drm_plane_state {
        // SAFETY: The caller passes a valid plane.
        unsafe { (*plane).state }
    }

    /// # Safety
    ///
    /// As for `CState::init`.
    unsafe fn init(state: *mut Self, plane: *mut bindings::drm_plane) {
        // SAFETY: Guaranteed by the caller; a zeroed `fmtcnv_state` is its initial value.
        unsafe { bindings::__drm_atomic_helper_plane_state_init(&raw mut (*state).base, plane) }
    }

    /// # Safety
    ///
    /// As for `CState::duplicate`.
    unsafe fn duplicate(state: *mut Self, plane: *mut bindings::drm_plane) {
        // SAFETY: Guaranteed by the caller.
        unsafe { bindings::__drm_gem_duplicate_shadow_plane_state(plane, state) }
    }

    /// # Safety
    ///
    /// As for `CState::destroy`.
    unsafe fn destroy(state: *mut Self) {
        // SAFETY: Guaranteed by the caller.
        unsafe { bindings::__drm_gem_destroy_shadow_plane_state(state) }
    }
}

/// What a shadow-buffered plane keeps: the framebuffer it scans out, mapped between commits.
///
/// The shadow-plane helpers map a plane's framebuffer before every commit and unmap it after.
/// Mapping a large shared-memory buffer means setting up and tearing down page tables (and
/// flushing the TLB) for every page of it. While a plane holds one of these, the per-commit
/// mapping only takes another reference on this one: clients that keep drawing into the
/// buffer on screen and report damage (fbdev, Xorg's shadow front buffer) map it once.
///
/// Only the framebuffer being put on screen is kept, so a framebuffer that userspace removes
/// is not held beyond the commit that takes it off the plane.
#[pin_data]
pub struct ShadowPlaneData {
    #[pin]
    kept: Mutex<Option<KeptMap>>,
}

impl ShadowPlaneData {
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
}

impl<D: StateData> State for ShadowPlaneState<D> {}

impl<D: StateData> Sealed for ShadowPlaneState<D> {
    type PlaneData = ShadowPlaneData;

    fn plane_data() -> impl PinInit<ShadowPlaneData> {
        pin_init!(ShadowPlaneData {
            kept <- new_mutex!(None, "ShadowPlaneData::kept"),
        })
    }

    const FUNCS: bindings::drm_plane_funcs = bindings::drm_plane_funcs {
        atomic_create_state: Some(Subclass::<bindings::drm_shadow_plane_state, D>::create),
        atomic_duplicate_state: Some(Subclass::<bindings::drm_shadow_plane_state, D>::duplicate),
        atomic_destroy_state: Some(Subclass::<bindings::drm_shadow_plane_state, D>::destroy),
        ..pin_init::zeroed()
    };

    const END_FB_ACCESS: Option<
        unsafe extern "C" fn(*mut bindings::drm_plane, *mut bindings::drm_plane_state),
    > = Some(bindings::drm_gem_end_shadow_fb_access);

    const HAS_BEGIN_FB_ACCESS: bool = true;

    /// # Safety
    ///
    /// As for [`Sealed::begin_fb_access`].
    unsafe fn begin_fb_access(
        data: &ShadowPlaneData,
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_plane_state,
    ) -> c_int {
        // SAFETY: `state` is a new state of `plane` (guaranteed by the caller), whose
        // framebuffer, if any, is made from GEM objects: `fb_create` of every KMS device is
        // `drm_gem_fb_create_with_dirty()`, and the fbdev emulation uses GEM shmem buffers.
        unsafe {
            data.keep_mapped((*state).fb);
            bindings::drm_gem_begin_shadow_fb_access(plane, state)
        }
    }

    /// # Safety
    ///
    /// As for [`Sealed::from_raw`].
    unsafe fn from_raw<'a>(ptr: *mut bindings::drm_plane_state) -> &'a Self {
        // SAFETY: Guaranteed by the caller: states of planes with this state type are made by
        // the `Subclass` hooks, so `ptr` is the `base` of a subclassed
        // `struct drm_shadow_plane_state`.
        let subclass = unsafe { Subclass::<bindings::drm_shadow_plane_state, D>::from_base(ptr) };
        // SAFETY: `Self` is transparent over the subclass; the borrow keeps its lifetime.
        unsafe { &*ptr::from_ref(subclass).cast::<Self>() }
    }
}

impl<D: StateData> core::ops::Deref for ShadowPlaneState<D> {
    type Target = PlaneState;

    fn deref(&self) -> &PlaneState {
        // SAFETY: `base` is a valid plane state, borrowed as long as `self` (type invariant).
        unsafe { <PlaneState as Sealed>::from_raw(&raw mut (*self.0.raw()).base) }
    }
}

impl<D: StateData> AsRef<PlaneState> for ShadowPlaneState<D> {
    fn as_ref(&self) -> &PlaneState {
        self
    }
}

impl<D: StateData> ShadowPlaneState<D> {
    /// The driver's data, as the atomic check left it.
    pub fn data(&self) -> &D {
        self.0.data()
    }

    /// Where the lines of `clip` are in the kernel mapping of the framebuffer.
    ///
    /// Fails with `EINVAL` if the plane has no single-plane framebuffer, or no kernel mapping of
    /// it (outside a commit), or if `clip` does not lie within the framebuffer.
    fn clip_source(&self, clip: &Rect) -> Result<ClipSource> {
        let fb = self.fb().ok_or(EINVAL)?;
        let cpp = fb.cpp() as usize;
        if fb.num_planes() != 1 || cpp == 0 || !clip.is_within(fb.width(), fb.height()) {
            return Err(EINVAL);
        }
        // SAFETY: Valid by the type invariant.
        let map = unsafe { (*self.0.raw()).data[0] };
        // SAFETY: `vaddr` and `vaddr_iomem` share storage; we only test it for NULL.
        let vaddr = unsafe { map.__bindgen_anon_1.vaddr };
        if map.is_iomem || vaddr.is_null() {
            return Err(EINVAL);
        }
        let (x, y) = (clip.x1 as usize, clip.y1 as usize);
        // INVARIANT: The framebuffer has one colour plane, which `data[0]` maps whole (the
        // framebuffer was checked against its GEM object when it was made) in system memory,
        // for as long as the commit, during which this state is borrowed, runs; `clip` lies
        // within the framebuffer.
        Ok(ClipSource {
            map,
            fb: ptr::from_ref(fb.raw()),
            clip: bindings::drm_rect {
                x1: clip.x1,
                y1: clip.y1,
                x2: clip.x2,
                y2: clip.y2,
            },
            line: clip.width() as usize * cpp,
            rows: clip.height() as usize,
            x_bytes: x * cpp,
            y,
        })
    }

    /// Copies what changed in the update from `old` to this state, one damage rectangle at a
    /// time, with `copy` (e.g. a call of [`ShadowPlaneState::copy_clip`]), which returns the
    /// bytes it copied; counts what was copied and what failed.
    ///
    /// A commit without damage information, or one that changes the framebuffer or the source
    /// rectangle, damages the whole plane (see [`DamageIter`]).
    pub fn copy_damage(
        &self,
        old: &PlaneState,
        copy: impl FnMut(&Rect) -> Result<usize>,
    ) -> DamageCopy {
        self.copy_rects(DamageIter::new(old, self), copy)
    }

    /// Copies `rects` of the framebuffer with `copy`, as [`ShadowPlaneState::copy_damage`] copies
    /// the damage: for a driver whose destination lacks other parts than this update's damage,
    /// e.g. one of several frames that holds an older picture.
    ///
    /// The copies run between `drm_gem_fb_begin_cpu_access()` and
    /// `drm_gem_fb_end_cpu_access()`, which synchronise a buffer imported from another device
    /// (a no-op for the driver's own buffers); if the buffer cannot be accessed, nothing is
    /// copied and every rectangle counts as failed with that error.
    pub fn copy_rects(
        &self,
        rects: impl Iterator<Item = Rect>,
        mut copy: impl FnMut(&Rect) -> Result<usize>,
    ) -> DamageCopy {
        let start = Instant::<Monotonic>::now();
        let mut done = DamageCopy::default();
        let fb = self.fb().map(|fb| ptr::from_ref(fb.raw()).cast_mut());
        let access = match fb {
            Some(fb) => {
                // SAFETY: `fb` is the state's framebuffer, made from GEM objects (see
                // `begin_fb_access`), alive while the state is borrowed.
                let ret = unsafe { bindings::drm_gem_fb_begin_cpu_access(fb, FROM_DEVICE) };
                to_result(ret)
            }
            None => Ok(()),
        };
        for clip in rects {
            done.add(&clip, access.and_then(|()| copy(&clip)));
        }
        if let (Some(fb), Ok(())) = (fb, access) {
            // SAFETY: Ends the access begun above.
            unsafe { bindings::drm_gem_fb_end_cpu_access(fb, FROM_DEVICE) };
        }
        done.ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        done
    }

    /// Copies rectangle `clip` of the framebuffer to the same position in an image in `dst`
    /// with the framebuffer's pixel format and `dst_pitch` bytes per line, starting at byte
    /// `dst_start` (e.g. one of several frames in video memory).
    ///
    /// Returns the number of bytes copied. Fails with `EINVAL` if the plane has no single-plane
    /// framebuffer, or no kernel mapping of it (outside a commit), or if `clip` does not lie
    /// within the framebuffer; with `ERANGE` if the destination does not fit into `dst`.
    pub fn copy_clip(
        &self,
        clip: &Rect,
        dst: &MemRemap<'_>,
        dst_start: usize,
        dst_pitch: usize,
    ) -> Result<usize> {
        let src = self.clip_source(clip)?;
        let dst_off = src
            .dst_offset(dst_pitch)?
            .checked_add(dst_start)
            .ok_or(ERANGE)?;
        let end = super::damage::rows_end(dst_off, dst_pitch, src.line, src.rows).ok_or(ERANGE)?;
        if end > dst.size() {
            return Err(ERANGE);
        }
        // SAFETY: The `rows` destination lines of `line` bytes, `dst_pitch` apart from
        // `dst_off`, end at or before `end <= dst.size()`, inside the mapping, which is kernel
        // memory the device scans out, not the framebuffer.
        unsafe { src.copy_to(dst.as_ptr(), dst_off, dst_pitch)? };
        Ok(src.line * src.rows)
    }

    /// Like [`ShadowPlaneState::copy_clip`], into memory the kernel owns (e.g. a buffer of a
    /// virtual display): `dst` holds an image of `dst_pitch` bytes per line.
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
        // SAFETY: The destination lines end at or before `end <= dst.len()`; `dst` is borrowed
        // mutably, so it cannot overlap the framebuffer's mapping.
        unsafe { src.copy_to(dst.as_mut_ptr(), dst_off, dst_pitch)? };
        Ok(src.line * src.rows)
    }
}

impl<D: StateData> PlaneCheck<'_, ShadowPlaneState<D>> {
    /// The driver's data of the new state, to record what the commit is to do.
    pub fn data_mut(&mut self) -> &mut D {
        // SAFETY: The new state belongs to the commit being checked, which only this thread
        // changes during the check phase; `self` is borrowed mutably for as long as the
        // reference lives, so no other reference to the data exists through it
        // (`PlaneCheck::state` borrows `self`).
        unsafe { self.new_state().0.data_mut() }
    }

    /// Refuses (`EINVAL`, with a debug message on `dev`) a visible framebuffer whose first
    /// colour plane, pitch times height bytes, does not fit into the `size` bytes of scanout
    /// memory its damage is copied to, from offset 0 with the framebuffer's pitch.
    pub fn check_fb_fits(&self, dev: &impl AsRef<device::Device>, size: usize) -> Result {
        let state = self.state();
        let Some(fb) = state.fb().filter(|_| state.visible()) else {
            return Ok(());
        };
        let needed = u64::from(fb.pitch(0)) * u64::from(fb.height());
        if needed > size as u64 {
            dev_dbg!(
                dev,
                "{}x{} framebuffer with pitch {} needs {needed} bytes, scanout memory has {size}\n",
                fb.width(),
                fb.height(),
                fb.pitch(0)
            );
            return Err(EINVAL);
        }
        Ok(())
    }
}

/// Running totals of the damage copies of a shadow-buffered plane, e.g. for debugfs.
#[derive(Default)]
pub struct CopyStats {
    commits: AtomicU64,
    rects: AtomicU64,
    bytes: AtomicU64,
    last_bytes: AtomicU64,
    failed: AtomicU64,
    ns: AtomicU64,
}

impl CopyStats {
    /// Adds the copy of one plane update.
    pub fn record(&self, done: &DamageCopy) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.rects.fetch_add(done.rects, Ordering::Relaxed);
        self.bytes.fetch_add(done.bytes, Ordering::Relaxed);
        self.failed.fetch_add(done.failed, Ordering::Relaxed);
        self.ns.fetch_add(done.ns, Ordering::Relaxed);
        self.last_bytes.store(done.bytes, Ordering::Relaxed);
    }

    /// Writes the plane updates, rectangles, bytes and the bytes of the last update, one
    /// `name: value` line each (`commits`, `rects`, `bytes`, `last_bytes`).
    pub fn show(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "commits: {}", self.commits.load(Ordering::Relaxed))?;
        writeln!(f, "rects: {}", self.rects.load(Ordering::Relaxed))?;
        writeln!(f, "bytes: {}", self.bytes.load(Ordering::Relaxed))?;
        writeln!(f, "last_bytes: {}", self.last_bytes.load(Ordering::Relaxed))
    }

    /// Rectangles that could not be copied.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Time spent copying, in nanoseconds.
    pub fn ns(&self) -> u64 {
        self.ns.load(Ordering::Relaxed)
    }
}

/// A damage rectangle of a framebuffer mapped into the kernel, ready for `drm_fb_memcpy()`.
///
/// # Invariants
///
/// `fb` is a single-plane framebuffer and `map` a kernel mapping (system memory) of all of its
/// first colour plane, both valid while the plane state they came from is borrowed; `clip`
/// lies within the framebuffer and spans `rows` lines of `line` bytes.
struct ClipSource {
    map: bindings::iosys_map,
    fb: *const bindings::drm_framebuffer,
    clip: bindings::drm_rect,
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

    /// Copies the rectangle to `dst + offset`, lines `dst_pitch` bytes apart, with
    /// `drm_fb_memcpy()`. Fails with `ERANGE` for a pitch above `u32::MAX`.
    ///
    /// # Safety
    ///
    /// The `rows` lines of `line` bytes, `dst_pitch` bytes apart from `dst + offset`, are
    /// valid for writes, do not overlap each other (`line <= dst_pitch` for several rows), and
    /// do not overlap the framebuffer. The plane state this came from is borrowed.
    unsafe fn copy_to(&self, dst: *mut u8, offset: usize, dst_pitch: usize) -> Result {
        let pitch = u32::try_from(dst_pitch).map_err(|_| ERANGE)?;
        let pitches = [pitch, 0, 0, 0];
        let mut dst_map =
            [bindings::iosys_map::default(); bindings::DRM_FORMAT_MAX_PLANES as usize];
        // `is_iomem == false` selects the `vaddr` member of the union.
        dst_map[0] = bindings::iosys_map {
            __bindgen_anon_1: bindings::iosys_map__bindgen_ty_1 {
                // SAFETY: Inside the destination (guaranteed by the caller).
                vaddr: unsafe { dst.add(offset) }.cast(),
            },
            is_iomem: false,
        };
        let mut src_map =
            [bindings::iosys_map::default(); bindings::DRM_FORMAT_MAX_PLANES as usize];
        src_map[0] = self.map;
        // SAFETY: By the type invariant, `fb` has one colour plane, mapped by `src_map[0]` in
        // system memory, and `clip` lies within it; the caller guarantees the destination.
        // `drm_fb_memcpy()` reads one entry of each array per colour plane.
        unsafe {
            bindings::drm_fb_memcpy(
                dst_map.as_mut_ptr(),
                pitches.as_ptr(),
                src_map.as_ptr(),
                self.fb,
                &self.clip,
            )
        };
        Ok(())
    }
}

/// A framebuffer reference together with a kernel mapping of its buffers.
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
