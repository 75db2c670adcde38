// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Commit tails: the order in which a checked commit reaches the hardware.
//!
//! C header: [`include/drm/drm_atomic_helper.h`](srctree/include/drm/drm_atomic_helper.h)
//!
//! A driver picks one with [`KmsDriver::COMMIT_TAIL`](super::KmsDriver::COMMIT_TAIL).

use crate::bindings;

/// How a checked commit is applied (`drm_mode_config_helper_funcs.atomic_commit_tail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitTail {
    /// `drm_atomic_helper_commit_tail()`: disables CRTCs, updates and flushes planes, enables
    /// CRTCs, then waits for the next vblank of every CRTC in the commit. The default, as in C.
    Helper,
    /// CRTCs are enabled before their planes are updated and flushed, so the flush arms the
    /// commit's event for a vblank of a running CRTC rather than sending it at once; the commit
    /// then waits for its own events (`flip_done`) rather than for the next vblank count: a later
    /// commit may turn the CRTC off before that vblank, which sends pending events but stops the
    /// count, and a wait for the count would time out.
    ///
    /// For CRTCs paced by [`VblankTimer`](super::vblank_helper::VblankTimer), whose vblanks only
    /// come while the CRTC is on.
    EnablesFirst,
}

impl CommitTail {
    /// The `atomic_commit_tail` hook; `None` makes the DRM core use its default.
    pub(crate) const fn as_raw(
        self,
    ) -> Option<unsafe extern "C" fn(*mut bindings::drm_atomic_commit)> {
        match self {
            Self::Helper => None,
            Self::EnablesFirst => Some(commit_tail_enables_first),
        }
    }
}

/// [`CommitTail::EnablesFirst`].
///
/// # Safety
///
/// Called by the atomic helpers with a checked commit they own until it returns.
unsafe extern "C" fn commit_tail_enables_first(state: *mut bindings::drm_atomic_commit) {
    // SAFETY: `state` is a checked commit the atomic helpers own (guaranteed by the caller);
    // these are the steps of their own commit tails, in an order they support.
    unsafe {
        let dev = (*state).dev;
        bindings::drm_atomic_helper_commit_modeset_disables(dev, state);
        bindings::drm_atomic_helper_commit_modeset_enables(dev, state);
        bindings::drm_atomic_helper_commit_planes(dev, state, 0);
        bindings::drm_atomic_helper_fake_vblank(state);
        bindings::drm_atomic_helper_commit_hw_done(state);
        bindings::drm_atomic_helper_wait_for_flip_done(dev, state);
        bindings::drm_atomic_helper_cleanup_planes(dev, state);
    }
}
