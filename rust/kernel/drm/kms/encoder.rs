// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Encoders: the link between a CRTC and the connectors it can drive.
//!
//! C header: [`include/drm/drm_encoder.h`](srctree/include/drm/drm_encoder.h)

use super::{
    crtc::CrtcMask,
    KmsDriver,
    ModeConfig, //
};
use crate::{
    bindings,
    error::to_result,
    prelude::*,
    types::Opaque, //
};
use core::ptr;

/// The kind of an encoder (`DRM_MODE_ENCODER_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderType(u32);

impl EncoderType {
    /// No physical encoder: virtual and emulated displays.
    pub const VIRTUAL: Self = Self(bindings::DRM_MODE_ENCODER_VIRTUAL);
}

/// An encoder (`struct drm_encoder`) without driver hooks.
///
/// # Invariants
///
/// `self.0` is an initialised encoder allocated by [`Encoder::new`] and freed by the DRM core
/// through the `destroy` hook when the device goes away.
#[repr(transparent)]
pub struct Encoder(Opaque<bindings::drm_encoder>);

impl Encoder {
    const FUNCS: bindings::drm_encoder_funcs = bindings::drm_encoder_funcs {
        destroy: Some(Self::destroy_callback),
        ..pin_init::zeroed()
    };

    /// Creates an encoder of `kind` that the CRTCs in `possible_crtcs` can feed (see
    /// [`super::crtc::Crtc::mask`]).
    ///
    /// Fails with `ENOSPC` for a 33rd encoder.
    pub fn new<'a, T: KmsDriver>(
        mc: &'a ModeConfig<T>,
        kind: EncoderType,
        possible_crtcs: CrtcMask,
    ) -> Result<&'a Self> {
        mc.check_room("encoder", |config| config.num_encoder)?;
        let register = |raw: *mut Opaque<bindings::drm_encoder>| {
            let raw = Opaque::cast_into(raw);
            // SAFETY: The device is unregistered with an initialised mode configuration; `raw`
            // is zeroed memory. The vtable outlives the device, as a connector's do
            // (`Connector::new`).
            to_result(unsafe {
                bindings::drm_encoder_init(
                    mc.as_raw(),
                    raw,
                    &Self::FUNCS,
                    kind.0 as i32,
                    ptr::null(),
                )
            })?;
            // SAFETY: Initialised above; set before registration, as the DRM core requires.
            unsafe { (*raw).possible_crtcs = possible_crtcs.as_raw() };
            Ok(())
        };
        // SAFETY: Only `destroy_callback` frees the encoder, and the DRM core calls it when the
        // device is released.
        let encoder = unsafe { mc.new_object(Opaque::init_zeroed(), register)? };
        // SAFETY: `Self` is a transparent wrapper of the encoder, which lives as long.
        Ok(unsafe { &*ptr::from_ref(encoder).cast::<Self>() })
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_encoder {
        self.0.get()
    }

    /// The device of the encoder, as the C object records it.
    pub(crate) fn dev_raw(&self) -> *mut bindings::drm_device {
        // SAFETY: The encoder is initialised (type invariant); `dev` never changes.
        unsafe { (*self.as_raw()).dev }
    }

    extern "C" fn destroy_callback(encoder: *mut bindings::drm_encoder) {
        // SAFETY: Called once by the DRM core when the device goes away.
        unsafe { bindings::drm_encoder_cleanup(encoder) };
        // SAFETY: Allocated by `new` as a `KBox<Opaque<drm_encoder>>`, no longer used.
        drop(unsafe { KBox::from_raw(Opaque::cast_from(encoder).cast_mut()) });
    }
}
