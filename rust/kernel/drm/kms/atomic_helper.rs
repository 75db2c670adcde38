// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The commit tail: the order in which a checked commit reaches the hardware.
//!
//! C header: [`include/drm/drm_atomic_helper.h`](srctree/include/drm/drm_atomic_helper.h)
//!
//! Every CRTC here is paced by the software vblank timer
//! ([`VblankTimer`](super::vblank_helper::VblankTimer)), whose vblanks only come while the CRTC
//! is on. So CRTCs are enabled before their planes are updated and flushed (the order of
//! `drm_atomic_helper_commit_tail_rpm()`), and the flush arms the commit's event for a vblank
//! of a running CRTC rather than sending it at once; the commit then waits for its own events
//! (`flip_done`) rather than for the next vblank count, as `drm_atomic_helper_commit_tail()`
//! does: a later commit may turn the CRTC off before that vblank, which sends pending events but
//! stops the count, and a wait for the count would time out. No C helper has this exact tail;
//! a CRTC with a vblank interrupt of its own would be served by the C default.

use crate::bindings;

/// The `atomic_commit_tail` hook of every KMS device (see the module documentation).
///
/// # Safety
///
/// Called by the atomic helpers with a checked commit they own until it returns.
pub(super) unsafe extern "C" fn commit_tail(state: *mut bindings::drm_atomic_commit) {
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
