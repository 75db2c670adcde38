// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Atomic states subclassed with driver data.
//!
//! C header: [`drm_atomic_state_helper.h`](srctree/include/drm/drm_atomic_state_helper.h)
//!
//! C drivers embed a helper's state (`struct drm_crtc_state`, `struct drm_shadow_plane_state`)
//! as the first member of a struct of their own and wrap the helpers' `__drm_*` halves of the
//! state hooks around their own fields. `Subclass` is that struct for any driver data
//! ([`StateData`]), with the three hooks written once: the state types of the object modules
//! ([`CrtcState`](super::crtc::CrtcState),
//! [`ShadowPlaneState`](super::gem_atomic_helper::ShadowPlaneState)) are subclasses.

use crate::{
    prelude::*,
    types::Opaque, //
};
use core::{
    cell::UnsafeCell,
    ptr, //
};

/// Driver data carried by an atomic state of a plane or CRTC: what the driver's atomic check
/// decided for the commit to carry out, as C drivers keep it in a subclass of their states.
///
/// An object's first state (`atomic_create_state`) holds [`Default::default`]; every later
/// state is duplicated from the object's current one (`atomic_duplicate_state`) and then
/// checked, when the check's `data_mut()` ([`PlaneCheck`](super::plane::PlaneCheck) of a
/// [`ShadowPlaneState`](super::gem_atomic_helper::ShadowPlaneState),
/// [`CrtcCheck`](super::crtc::CrtcCheck)) lets the driver complete it. The commit reads it,
/// and it is dropped with its state.
pub trait StateData: Default + Send + Sized {
    /// The data of a new state duplicated from a state holding `self`.
    ///
    /// May allocate (duplication is part of building a commit, before its check); a failure
    /// fails the duplication, hence the commit, with `ENOMEM`.
    fn duplicate(&self) -> Result<Self>;
}

impl StateData for () {
    fn duplicate(&self) -> Result<()> {
        Ok(())
    }
}

/// A C state struct that can be subclassed, and the helpers that build and release it.
///
/// # Safety
///
/// `Object` and `Base` are the C object and the state type its hooks take, `Base` being the
/// first member of `Self` or `Self` itself; the functions are the C helpers' halves of the
/// state hooks for `Self`.
pub(crate) unsafe trait CState: Sized {
    /// The C object whose states these are (`struct drm_crtc`, `struct drm_plane`).
    type Object;
    /// The state type its hooks take (`struct drm_crtc_state`, `struct drm_plane_state`).
    type Base;

    /// The base of the state at `state` (a projection, no access).
    ///
    /// # Safety
    ///
    /// `state` points into an allocation of a `Self`.
    unsafe fn base(state: *mut Self) -> *mut Self::Base;

    /// The state whose base `base` is (a projection, no access).
    ///
    /// # Safety
    ///
    /// `base` is the base of a `Self`.
    unsafe fn from_base(base: *mut Self::Base) -> *mut Self;

    /// The object's current state, NULL if it has none.
    ///
    /// # Safety
    ///
    /// `object` is valid.
    unsafe fn current(object: *mut Self::Object) -> *mut Self::Base;

    /// Initialises a zeroed state for `object`.
    ///
    /// # Safety
    ///
    /// `state` is zeroed and `object` valid.
    unsafe fn init(state: *mut Self, object: *mut Self::Object);

    /// Initialises a zeroed state as a copy of `object`'s current state.
    ///
    /// # Safety
    ///
    /// `state` is zeroed, `object` valid and with a current state of this type.
    unsafe fn duplicate(state: *mut Self, object: *mut Self::Object);

    /// Releases what the C helpers hold for `state`, before it is freed.
    ///
    /// # Safety
    ///
    /// `state` was initialised by [`CState::init`] or [`CState::duplicate`] and is no longer
    /// used.
    unsafe fn destroy(state: *mut Self);
}

/// The C state `B` subclassed with driver data `D`.
///
/// # Invariants
///
/// `raw` is a valid, initialised `B`, not changed while borrowed; the state was allocated as a
/// `KBox<Self>` by [`Subclass::create`] or [`Subclass::duplicate`] and is freed by
/// [`Subclass::destroy`]. `data` is changed only through [`Subclass::data_mut`].
#[repr(C)]
pub(crate) struct Subclass<B: CState, D: StateData> {
    raw: Opaque<B>,
    data: UnsafeCell<D>,
}

impl<B: CState, D: StateData> Subclass<B, D> {
    /// Allocates a state with `data`; its C part zeroed, the pristine value of the C structs.
    fn alloc(data: D) -> Result<*mut Self> {
        let state = KBox::new(
            Self {
                raw: Opaque::zeroed(),
                data: UnsafeCell::new(data),
            },
            GFP_KERNEL,
        )?;
        Ok(KBox::into_raw(state))
    }

    /// The C state of `state` (a projection, no access).
    fn c_state(state: *mut Self) -> *mut B {
        // SAFETY: A projection to the first member.
        unsafe { Opaque::cast_into(&raw const (*state).raw) }
    }

    /// # Safety
    ///
    /// `base` is the base of a live state of this type, not changed during `'a` except
    /// through [`Subclass::data_mut`].
    pub(crate) unsafe fn from_base<'a>(base: *mut B::Base) -> &'a Self {
        // SAFETY: The caller guarantees that `base` is the base of a live `Self`, whose first
        // member (`repr(C)`) is the `B` `from_base` returns.
        unsafe { &*B::from_base(base).cast() }
    }

    /// The C state.
    pub(crate) fn raw(&self) -> *mut B {
        self.raw.get()
    }

    /// The driver's data, as the atomic check left it.
    pub(crate) fn data(&self) -> &D {
        // SAFETY: Only `data_mut` changes `data`, whose callers guarantee that no reference to
        // the data of this state exists meanwhile (type invariant).
        unsafe { &*self.data.get() }
    }

    /// The driver's data, to change.
    ///
    /// # Safety
    ///
    /// The state is a new state of a commit being checked by this thread, and no other
    /// reference to its data exists while the returned one lives.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn data_mut(&self) -> &mut D {
        // SAFETY: Guaranteed by the caller.
        unsafe { &mut *self.data.get() }
    }

    /// The `atomic_create_state` hook: the object's first state, with [`Default::default`]
    /// driver data.
    pub(crate) extern "C" fn create(object: *mut B::Object) -> *mut B::Base {
        let Ok(state) = Self::alloc(D::default()) else {
            return ENOMEM.to_ptr();
        };
        let c_state = Self::c_state(state);
        // SAFETY: The C state was just allocated, zeroed; the DRM core passes a valid object.
        unsafe {
            B::init(c_state, object);
            B::base(c_state)
        }
    }

    /// The `atomic_duplicate_state` hook: a copy of the object's current state, its driver data
    /// from [`StateData::duplicate`]. Returns NULL on failure, as the DRM core expects.
    pub(crate) extern "C" fn duplicate(object: *mut B::Object) -> *mut B::Base {
        // SAFETY: The DRM core passes a valid object, whose current state, if any, was made by
        // these hooks, and is not changed while it is duplicated (the caller holds the
        // object's lock).
        let current = unsafe {
            let current = B::current(object);
            if current.is_null() {
                return ptr::null_mut();
            }
            Self::from_base(current)
        };
        let Ok(state) = current.data().duplicate().and_then(Self::alloc) else {
            return ptr::null_mut();
        };
        let c_state = Self::c_state(state);
        // SAFETY: The C state was just allocated, zeroed; `object` has a current state of this
        // type.
        unsafe {
            B::duplicate(c_state, object);
            B::base(c_state)
        }
    }

    /// The `atomic_destroy_state` hook.
    pub(crate) extern "C" fn destroy(_object: *mut B::Object, base: *mut B::Base) {
        // SAFETY: The DRM core passes a state of this object, made by the hooks above (type
        // invariant), which it no longer uses; its C state is the first member of `Self`.
        unsafe {
            let state = B::from_base(base).cast::<Self>();
            B::destroy(Self::c_state(state));
            drop(KBox::from_raw(state));
        }
    }
}
