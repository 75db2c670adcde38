// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Connectors, mode probing and EDID.
//!
//! C headers: [`include/drm/drm_connector.h`](srctree/include/drm/drm_connector.h),
//! [`include/drm/drm_edid.h`](srctree/include/drm/drm_edid.h)

use super::{
    KmsDriver,
    ModeConfig, //
};
use crate::{
    bindings, container_of,
    drm::{
        self,
        Ioctl, //
    },
    error::to_result,
    prelude::*,
    types::{
        NotThreadSafe,
        Opaque, //
    },
};
use core::ptr::NonNull;

/// The kind of a connector (`DRM_MODE_CONNECTOR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectorType(u32);

impl ConnectorType {
    /// A virtual display.
    pub const VIRTUAL: Self = Self(bindings::DRM_MODE_CONNECTOR_VIRTUAL);
}

/// Whether a display is attached to a connector (`enum drm_connector_status`).
///
/// # Examples
///
/// What a [`DriverConnector::detect`] hook returns for a hot-plug detect bit it could read, or
/// not:
///
/// ```
/// use kernel::drm::kms::connector::ConnectorStatus;
///
/// fn status(hot_plug_detect: Option<bool>) -> ConnectorStatus {
///     match hot_plug_detect {
///         Some(true) => ConnectorStatus::Connected,
///         Some(false) => ConnectorStatus::Disconnected,
///         None => ConnectorStatus::Unknown,
///     }
/// }
///
/// assert_eq!(status(Some(false)), ConnectorStatus::Disconnected);
/// assert_eq!(status(None), ConnectorStatus::Unknown);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorStatus {
    /// A display is attached and can be used.
    Connected,
    /// Nothing is attached.
    Disconnected,
    /// The hardware cannot tell.
    Unknown,
}

impl ConnectorStatus {
    fn as_raw(self) -> bindings::drm_connector_status {
        match self {
            Self::Connected => bindings::drm_connector_status_connector_status_connected,
            Self::Disconnected => bindings::drm_connector_status_connector_status_disconnected,
            Self::Unknown => bindings::drm_connector_status_connector_status_unknown,
        }
    }
}

/// Driver data and hooks of a connector.
#[vtable]
pub trait DriverConnector: Send + Sync + Sized {
    /// The driver this connector belongs to.
    type Driver: KmsDriver;

    /// Reports the modes of the attached display through `probe`; returns how many were added.
    ///
    /// Runs with the mode configuration locked, when userspace or a client probes.
    fn get_modes(
        connector: &Connector<Self>,
        dev: &drm::Device<Self::Driver, Ioctl>,
        probe: &mut ModeProbe<'_>,
    ) -> u32;

    /// Tells whether a display is attached (the `detect` hook); `force` is set when userspace
    /// asks, clear when polling. Without it the connector is always connected, as in C.
    fn detect(
        _connector: &Connector<Self>,
        _dev: &drm::Device<Self::Driver, Ioctl>,
        _force: bool,
    ) -> ConnectorStatus {
        ConnectorStatus::Connected
    }
}

/// A connector (`struct drm_connector`) with driver data `T`.
///
/// The connector carries the EDID property; it reports what [`DriverConnector::detect`] says.
///
/// # Invariants
///
/// `connector` is initialised with `Connector::FUNCS`, allocated by [`Connector::new`] and
/// freed by the DRM core through the `destroy` hook when the device goes away.
#[repr(C)]
#[pin_data]
pub struct Connector<T: DriverConnector> {
    #[pin]
    connector: Opaque<bindings::drm_connector>,
    #[pin]
    inner: T,
}

impl<T: DriverConnector> Connector<T> {
    const FUNCS: bindings::drm_connector_funcs = bindings::drm_connector_funcs {
        fill_modes: Some(bindings::drm_helper_probe_single_connector_modes),
        detect: if T::HAS_DETECT {
            Some(Self::detect_callback)
        } else {
            None
        },
        destroy: Some(Self::destroy_callback),
        atomic_create_state: Some(bindings::drm_atomic_helper_connector_create_state),
        atomic_duplicate_state: Some(bindings::drm_atomic_helper_connector_duplicate_state),
        atomic_destroy_state: Some(bindings::drm_atomic_helper_connector_destroy_state),
        ..pin_init::zeroed()
    };

    const HELPER_FUNCS: bindings::drm_connector_helper_funcs =
        bindings::drm_connector_helper_funcs {
            get_modes: Some(Self::get_modes_callback),
            ..pin_init::zeroed()
        };

    /// Creates a connector of `kind`, with the EDID property attached.
    pub fn new<'a>(
        mc: &'a ModeConfig<T::Driver>,
        kind: ConnectorType,
        init: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let init = try_pin_init!(Self {
            connector <- Opaque::init_zeroed(),
            inner <- init,
        });
        let register = |raw: *mut Self| {
            // SAFETY: `raw` is a valid allocation.
            let connector = unsafe { Opaque::cast_into(&raw const (*raw).connector) };
            // SAFETY: The device is unregistered with an initialised mode configuration;
            // `connector` is zeroed memory. The vtables are constants of the module that makes
            // the device, which outlive it: a registered device is torn down before its module
            // goes away (`Registration`), an unregistered one is only used by its maker.
            to_result(unsafe {
                bindings::drm_connector_init(mc.as_raw(), connector, &Self::FUNCS, kind.0 as i32)
            })?;
            // SAFETY: `connector` is initialised; the helper vtable outlives the device (as above).
            unsafe {
                bindings::drm_connector_helper_add(connector, &Self::HELPER_FUNCS);
                bindings::drm_connector_attach_edid_property(connector);
            }
            Ok(())
        };
        // SAFETY: Only `destroy_callback` frees the connector, and the DRM core calls it when
        // the device is released.
        unsafe { mc.new_object(init, register) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_connector {
        self.connector.get()
    }

    /// The device of the connector, as the C object records it.
    pub(crate) fn dev_raw(&self) -> *mut bindings::drm_device {
        // SAFETY: The connector is initialised (type invariant); `dev` never changes.
        unsafe { (*self.as_raw()).dev }
    }

    /// The driver data.
    pub fn data(&self) -> &T {
        &self.inner
    }

    extern "C" fn detect_callback(
        connector: *mut bindings::drm_connector,
        force: bool,
    ) -> bindings::drm_connector_status {
        // SAFETY: `connector` is the first member of a live `Connector<T>`.
        let this = unsafe { &*container_of!(Opaque::cast_from(connector), Self, connector) };
        // SAFETY: Detection happens for registered devices only (GETCONNECTOR, clients,
        // polling started at registration).
        let dev = unsafe { drm::Device::<T::Driver, Ioctl>::from_raw((*connector).dev) };
        T::detect(this, dev, force).as_raw()
    }

    extern "C" fn destroy_callback(connector: *mut bindings::drm_connector) {
        // SAFETY: Called once by the DRM core when the device goes away.
        unsafe { bindings::drm_connector_cleanup(connector) };
        // SAFETY: `connector` is the first member of a `Connector<T>` allocated by `new`.
        drop(unsafe {
            KBox::from_raw(container_of!(Opaque::cast_from(connector), Self, connector).cast_mut())
        });
    }

    extern "C" fn get_modes_callback(connector: *mut bindings::drm_connector) -> c_int {
        // SAFETY: `connector` is the first member of a live `Connector<T>`.
        let this = unsafe { &*container_of!(Opaque::cast_from(connector), Self, connector) };
        // SAFETY: Probing happens for registered devices only (GETCONNECTOR, clients).
        let dev = unsafe { drm::Device::<T::Driver, Ioctl>::from_raw((*connector).dev) };
        let mut probe = ModeProbe {
            connector,
            _locked: core::marker::PhantomData,
        };
        T::get_modes(this, dev, &mut probe)
            .try_into()
            .unwrap_or(c_int::MAX)
    }
}

// SAFETY: The C object is only changed under DRM's locks; driver data is `Send`.
unsafe impl<T: DriverConnector> Send for Connector<T> {}
// SAFETY: As above; driver data is `Sync`.
unsafe impl<T: DriverConnector> Sync for Connector<T> {}

/// Mode probing of a connector, with the mode configuration locked.
///
/// Only handed out to [`DriverConnector::get_modes`], so its operations always run with the
/// lock the C helpers require.
pub struct ModeProbe<'a> {
    connector: *mut bindings::drm_connector,
    _locked: core::marker::PhantomData<&'a mut ()>,
}

impl ModeProbe<'_> {
    /// Reads an EDID with `read_block`, which fills its buffer with `len` bytes of EDID data
    /// from byte `block * 128` (`drm_edid_read_custom()`).
    ///
    /// Returns `None` if no valid EDID could be read.
    pub fn read_edid<F>(&mut self, mut read_block: F) -> Option<Edid>
    where
        F: FnMut(u32, &mut [u8]) -> Result,
    {
        extern "C" fn trampoline<F: FnMut(u32, &mut [u8]) -> Result>(
            context: *mut c_void,
            buf: *mut u8,
            block: c_uint,
            len: usize,
        ) -> c_int {
            // SAFETY: `context` is the `&mut F` passed below, live for the whole read.
            let f = unsafe { &mut *context.cast::<F>() };
            // SAFETY: The EDID reader passes a buffer of `len` writable bytes.
            let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
            match f(block, buf) {
                Ok(()) => 0,
                Err(_) => -1,
            }
        }
        // SAFETY: The connector is valid; `trampoline::<F>` matches `read_block`'s type.
        let edid = unsafe {
            bindings::drm_edid_read_custom(
                self.connector,
                Some(trampoline::<F>),
                (&raw mut read_block).cast(),
            )
        };
        NonNull::new(edid.cast_mut()).map(|ptr| Edid {
            ptr,
            _not_send: NotThreadSafe,
        })
    }

    /// Stores `edid` (or its absence) in the connector: the EDID property, the display info
    /// (`drm_edid_connector_update()`).
    pub fn update_edid(&mut self, edid: Option<&Edid>) -> Result {
        let raw = edid.map_or(core::ptr::null(), |e| e.ptr.as_ptr().cast_const());
        // SAFETY: The connector is valid and the mode configuration locked; `raw` is NULL or a
        // valid EDID.
        to_result(unsafe { bindings::drm_edid_connector_update(self.connector, raw) })
    }

    /// Adds the modes of the EDID stored by [`ModeProbe::update_edid`]; returns how many.
    pub fn add_edid_modes(&mut self) -> u32 {
        // SAFETY: The connector is valid and the mode configuration locked.
        let n = unsafe { bindings::drm_edid_connector_add_modes(self.connector) };
        n.try_into().unwrap_or(0)
    }

    /// Adds the standard modes up to `max_width` x `max_height` (`drm_add_modes_noedid()`);
    /// returns how many.
    pub fn add_modes_noedid(&mut self, max_width: u32, max_height: u32) -> u32 {
        let clamp = |v: u32| c_uint::try_from(v).unwrap_or(c_uint::MAX);
        // SAFETY: The connector is valid and the mode configuration locked.
        let n = unsafe {
            bindings::drm_add_modes_noedid(self.connector, clamp(max_width), clamp(max_height))
        };
        n.try_into().unwrap_or(0)
    }

    /// The size of the first probed mode marked preferred (by the EDID or
    /// [`ModeProbe::set_preferred_mode`]), if any.
    pub fn preferred_size(&self) -> Option<(u32, u32)> {
        // SAFETY: The connector is valid and the mode configuration locked, so the list of
        // probed modes does not change while we walk it.
        let head = unsafe { &raw mut (*self.connector).probed_modes };
        // SAFETY: As above; `head` is an initialised list head.
        let mut pos = unsafe { (*head).next };
        while pos != head {
            // SAFETY: Every entry of `probed_modes` is the `head` of a `struct drm_display_mode`.
            let mode = unsafe { &*container_of!(pos, bindings::drm_display_mode, head) };
            if u32::from(mode.type_) & bindings::DRM_MODE_TYPE_PREFERRED != 0 {
                return Some((mode.hdisplay.into(), mode.vdisplay.into()));
            }
            pos = mode.head.next;
        }
        None
    }

    /// Adds a VESA CVT mode of `width` x `height` at `refresh` Hz (`drm_cvt_mode()`; 0 Hz
    /// stands for 60).
    ///
    /// Fails with `EINVAL`, adding nothing, if no such mode can be made: see [`cvt_supported`].
    pub fn add_cvt_mode(&mut self, width: u16, height: u16, refresh: u16) -> Result {
        if !cvt_supported(width, height, refresh) {
            return Err(EINVAL);
        }
        // SAFETY: The connector is valid and belongs to its device.
        let dev = unsafe { (*self.connector).dev };
        // SAFETY: `dev` is valid; the mode is newly allocated or NULL.
        let mode = unsafe {
            bindings::drm_cvt_mode(
                dev,
                width.into(),
                height.into(),
                refresh.into(),
                false,
                false,
                false,
            )
        };
        if mode.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The connector is valid and the mode configuration locked; the list takes
        // ownership of `mode`.
        unsafe { bindings::drm_mode_probed_add(self.connector, mode) };
        Ok(())
    }

    /// Marks the probed mode of that size as preferred (`drm_set_preferred_mode()`).
    pub fn set_preferred_mode(&mut self, width: u32, height: u32) {
        let c = |v: u32| c_int::try_from(v).unwrap_or(c_int::MAX);
        // SAFETY: The connector is valid and the mode configuration locked.
        unsafe { bindings::drm_set_preferred_mode(self.connector, c(width), c(height)) };
    }
}

/// Whether `drm_cvt_mode()` computes a mode of `width` x `height` at `refresh` Hz (0 for 60)
/// with the normal blanking [`ModeProbe::add_cvt_mode`] asks for.
///
/// The C function divides by the line period it estimates from the height and the refresh
/// rate (in ns, in `int` arithmetic): at high rates it reaches zero (a division by zero), at
/// very low ones its blanking arithmetic wraps. Accepted are widths of at least one character
/// cell (8 pixels; narrower ones round to 0), any non-zero height, and rates whose line period
/// lies between 1 ns and 100 µs. (Extreme accepted sizes and rates can still give timings the
/// C function truncates; the CRTC's mode checks refuse those modes.)
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::connector::cvt_supported;
///
/// assert!(cvt_supported(640, 480, 60));
/// assert!(cvt_supported(640, 480, 0));
/// assert!(cvt_supported(8192, 8192, 240));
/// // A zero line period (a division by zero in C).
/// assert!(!cvt_supported(640, 480, 1818));
/// assert!(!cvt_supported(640, 480, u16::MAX));
/// // A line period of seconds.
/// assert!(!cvt_supported(640, 1, 1));
/// assert!(!cvt_supported(7, 480, 60));
/// assert!(!cvt_supported(640, 0, 60));
/// ```
pub fn cvt_supported(width: u16, height: u16, refresh: u16) -> bool {
    /// `CVT_MIN_VSYNC_BP`: the least vertical sync and back porch time, in µs.
    const MIN_VSYNC_BP: i64 = 550;
    /// `CVT_MIN_V_PORCH`: the least vertical front porch, in lines.
    const MIN_V_PORCH: i64 = 3;
    if width < 8 || height == 0 {
        return false;
    }
    let rate = if refresh == 0 { 60 } else { i64::from(refresh) };
    // `hperiod` of `drm_cvt_mode()`, without margins or interlace.
    let frame = 1000 * 1_000_000 - MIN_VSYNC_BP * 1000 * rate;
    let lines = (i64::from(height) + MIN_V_PORCH) * 2;
    if frame <= 0 {
        return false;
    }
    let hperiod = frame * 2 / (lines * rate);
    (1..=100_000).contains(&hperiod)
}

/// An EDID read from a display (`struct drm_edid`), freed on drop.
pub struct Edid {
    ptr: NonNull<bindings::drm_edid>,
    _not_send: NotThreadSafe,
}

impl Edid {
    /// Whether `header` is the fixed EDID header (`drm_edid_header_is_valid()` found all eight
    /// bytes right).
    pub fn header_is_valid(header: &[u8; 8]) -> bool {
        // SAFETY: `header` holds the eight bytes the function reads.
        unsafe { bindings::drm_edid_header_is_valid(header.as_ptr().cast()) == 8 }
    }
}

impl Drop for Edid {
    fn drop(&mut self) {
        // SAFETY: We own the EDID returned by `drm_edid_read_custom()`.
        unsafe { bindings::drm_edid_free(self.ptr.as_ptr()) };
    }
}

#[macros::kunit_tests(rust_drm_kms_edid)]
mod tests {
    use super::*;

    #[test]
    fn edid_header() {
        let good = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(Edid::header_is_valid(&good));
        let mut bad = good;
        bad[3] = 0;
        assert!(!Edid::header_is_valid(&bad));
        assert!(!Edid::header_is_valid(&[0; 8]));
    }
}
