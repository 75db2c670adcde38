// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Display modes.
//!
//! C header: [`include/drm/drm_modes.h`](srctree/include/drm/drm_modes.h)

use crate::{
    bindings,
    types::Opaque, //
};

/// A display mode (`struct drm_display_mode`), read-only.
///
/// # Invariants
///
/// `self.0` is a valid, initialised `struct drm_display_mode`.
#[repr(transparent)]
pub struct DisplayMode(Opaque<bindings::drm_display_mode>);

impl DisplayMode {
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct drm_display_mode` that is not modified while the
    /// returned reference lives.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_display_mode) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper of the C struct; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> &bindings::drm_display_mode {
        // SAFETY: By the type invariant the struct is valid and, by the `from_raw` contract, not
        // modified while `self` is borrowed.
        unsafe { &*self.0.get() }
    }

    /// Visible width in pixels.
    pub fn hdisplay(&self) -> u16 {
        self.raw().hdisplay
    }

    /// Visible height in lines.
    pub fn vdisplay(&self) -> u16 {
        self.raw().vdisplay
    }

    /// Pixel clock in kHz.
    pub fn clock(&self) -> i32 {
        self.raw().clock
    }

    /// Total width in pixels, blanking included.
    pub fn htotal(&self) -> u16 {
        self.raw().htotal
    }

    /// Total height in lines, blanking included.
    pub fn vtotal(&self) -> u16 {
        self.raw().vtotal
    }

    /// How many times each line is scanned out (0 or 1: once).
    pub fn vscan(&self) -> u16 {
        self.raw().vscan
    }

    /// The `DRM_MODE_FLAG_*` flags.
    pub fn flags(&self) -> u32 {
        self.raw().flags
    }

    /// Refresh rate in Hz, rounded (`drm_mode_vrefresh()`).
    pub fn vrefresh(&self) -> i32 {
        // SAFETY: The mode is valid; the function only reads it.
        unsafe { bindings::drm_mode_vrefresh(self.0.get()) }
    }
}
