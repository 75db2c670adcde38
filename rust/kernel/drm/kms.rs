// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DRM kernel modesetting (KMS).
//!
//! C header: [`include/drm/drm_mode_config.h`](srctree/include/drm/drm_mode_config.h)
//!
//! A display driver implements [`KmsDriver`] beside [`drm::Driver`] and sets
//! [`drm::Driver::MODESET`] to [`modeset_ops`]. In probe it then:
//!
//! 1. creates an [`drm::UnregisteredDevice`] and starts a [`ModeConfig`] on it;
//! 2. creates its objects through that [`ModeConfig`]: planes ([`plane::Plane`]), CRTCs
//!    ([`crtc::Crtc`]), encoders ([`encoder::Encoder`]) and connectors ([`connector::Connector`]),
//!    each carrying driver data whose type implements the object's driver trait;
//! 3. creates the initial atomic state ([`ModeConfig::create_initial_state`]);
//! 4. registers the device with a [`Registration`], which also starts the fbdev emulation and,
//!    when dropped, unplugs the device and shuts the display pipeline down.
//!
//! The objects live as long as the [`drm::Device`]: the DRM core destroys them through their
//! `destroy` hooks when the device is released, never earlier. The atomic machinery is the C one
//! (`drm_atomic_helper_check()` and `drm_atomic_helper_commit()`); drivers see typed, read-only
//! states in their hooks.
//!
//! Planes made here always use shadow-buffered state (`struct drm_shadow_plane_state`): the
//! framebuffer is mapped into the kernel for the duration of a commit, and the driver copies the
//! damaged parts of it into its scanout memory ([`plane::PlaneState::copy_clip`]). Framebuffers
//! are GEM shmem objects created by the C helpers (dumb buffers, fbdev); they are never handled as
//! Rust GEM objects here, only through that kernel mapping.
//!
//! Hooks that touch hardware receive the device in the [`drm::Ioctl`] context: they only run for
//! a device that has been registered (atomic commits come from userspace or from clients started
//! by [`Registration`]), and the driver enters [`drm::Device::registration_guard`] to reach its
//! bound resources, exactly as C drivers use `drm_dev_enter()`.

pub mod connector;
pub mod crtc;
pub mod damage;
pub mod encoder;
pub mod format;
pub mod mode;
pub mod plane;

use crate::{
    bindings,
    device,
    drm::{
        self,
        driver::ModesetOps, //
    },
    error::{
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    prelude::*,
    sync::aref::ARef, //
};
use core::mem::ManuallyDrop;

/// Limits and preferences of a driver's mode configuration (`struct drm_mode_config`).
#[derive(Clone, Copy, Debug)]
pub struct ModeConfigInfo {
    /// Smallest framebuffer width in pixels.
    pub min_width: u32,
    /// Largest framebuffer width in pixels.
    pub max_width: u32,
    /// Smallest framebuffer height in pixels.
    pub min_height: u32,
    /// Largest framebuffer height in pixels.
    pub max_height: u32,
    /// Colour depth userspace and fbdev should prefer (e.g. 24 for XRGB8888).
    pub preferred_depth: u32,
    /// Pick formats in host byte order for legacy `ADDFB` (big-endian hosts).
    pub prefer_host_byte_order: bool,
}

/// Whether a display mode can be used (`enum drm_mode_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeStatus(bindings::drm_mode_status);

impl ModeStatus {
    /// The mode can be used.
    pub const OK: Self = Self(bindings::drm_mode_status_MODE_OK);
    /// Not enough memory for the mode.
    pub const MEM: Self = Self(bindings::drm_mode_status_MODE_MEM);
    /// The width is not supported.
    pub const BAD_WIDTH: Self = Self(bindings::drm_mode_status_MODE_BAD_WIDTH);
    /// The mode is wider than allowed.
    pub const H_ILLEGAL: Self = Self(bindings::drm_mode_status_MODE_H_ILLEGAL);
    /// The mode is taller than allowed.
    pub const V_ILLEGAL: Self = Self(bindings::drm_mode_status_MODE_V_ILLEGAL);
    /// The mode is unusable for another reason.
    pub const ERROR: Self = Self(bindings::drm_mode_status_MODE_ERROR);

    /// The raw `enum drm_mode_status` value.
    pub fn as_raw(self) -> bindings::drm_mode_status {
        self.0
    }
}

/// A DRM driver with a display.
///
/// Implemented beside [`drm::Driver`]; see the [module documentation](self) for the flow.
#[vtable]
pub trait KmsDriver: drm::Driver + Sized {
    /// Limits and preferences of the mode configuration.
    const MODE_CONFIG: ModeConfigInfo;

    /// Filters modes for the whole device (e.g. by available scanout memory).
    ///
    /// Called for every mode a connector reports and for every mode userspace asks for.
    fn mode_valid(_dev: &drm::Device<Self>, _mode: &mode::DisplayMode) -> ModeStatus {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The [`drm::Driver::MODESET`] value of a KMS driver.
///
/// Sets `DRIVER_MODESET | DRIVER_ATOMIC` and, with `CONFIG_DRM_FBDEV_EMULATION`, the shmem fbdev
/// probe. Only a [`KmsDriver`] can name it, and [`drm::Registration`] refuses to register a
/// device that sets it without a [`ModeConfig`].
pub const fn modeset_ops<T: KmsDriver>() -> ModesetOps {
    ModesetOps {
        #[cfg(CONFIG_DRM_FBDEV_EMULATION)]
        fbdev_probe: Some(bindings::drm_fbdev_shmem_driver_fbdev_probe),
        #[cfg(not(CONFIG_DRM_FBDEV_EMULATION))]
        fbdev_probe: None,
    }
}

/// The mode configuration of a device that is being set up.
///
/// Objects are created through it, so they exist before the device is registered, as the DRM
/// core requires.
pub struct ModeConfig<'a, T: KmsDriver> {
    drm: &'a drm::UnregisteredDevice<T>,
}

impl<'a, T: KmsDriver> ModeConfig<'a, T> {
    const FUNCS: bindings::drm_mode_config_funcs = bindings::drm_mode_config_funcs {
        fb_create: Some(bindings::drm_gem_fb_create_with_dirty),
        mode_valid: if T::HAS_MODE_VALID {
            Some(Self::mode_valid_callback)
        } else {
            None
        },
        atomic_check: Some(bindings::drm_atomic_helper_check),
        atomic_commit: Some(bindings::drm_atomic_helper_commit),
        // SAFETY: All other members are optional function pointers, for which zero is `None`.
        ..unsafe { core::mem::zeroed() }
    };

    /// Initialises the mode configuration of `drm` (`drmm_mode_config_init()`).
    ///
    /// Fails with `EBUSY` if it was already initialised.
    pub fn init(drm: &'a drm::UnregisteredDevice<T>) -> Result<Self> {
        let raw = drm.as_raw();
        let info = &T::MODE_CONFIG;

        // SAFETY: `raw` is valid; the device is not registered yet and `UnregisteredDevice` is
        // not shared between threads, so nothing accesses `mode_config` concurrently.
        if !unsafe { (*raw).mode_config.funcs }.is_null() {
            return Err(EBUSY);
        }

        // SAFETY: `raw` is a valid, unregistered device (see above). The managed release action
        // tears the mode configuration down with the device.
        to_result(unsafe { bindings::drmm_mode_config_init(raw) })?;

        // SAFETY: As above; `drmm_mode_config_init()` succeeded.
        let mc = unsafe { &mut (*raw).mode_config };
        mc.min_width = info.min_width.try_into()?;
        mc.max_width = info.max_width.try_into()?;
        mc.min_height = info.min_height.try_into()?;
        mc.max_height = info.max_height.try_into()?;
        mc.preferred_depth = info.preferred_depth;
        mc.quirk_addfb_prefer_host_byte_order = info.prefer_host_byte_order;
        mc.funcs = &Self::FUNCS;

        Ok(Self { drm })
    }

    /// The device being set up.
    pub fn drm(&self) -> &'a drm::UnregisteredDevice<T> {
        self.drm
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_device {
        self.drm.as_raw()
    }

    /// Enables vblank handling for `num_crtcs` CRTCs (`drm_vblank_init()`).
    pub fn vblank_init(&self, num_crtcs: u32) -> Result {
        // SAFETY: The device is valid and not registered yet.
        to_result(unsafe { bindings::drm_vblank_init(self.as_raw(), num_crtcs) })
    }

    /// Attaches `encoder` to `connector` as a possible route.
    pub fn attach_encoder<C: connector::DriverConnector<Driver = T>>(
        &self,
        connector: &connector::Connector<C>,
        encoder: &encoder::Encoder,
    ) -> Result {
        // SAFETY: Both objects are initialised and belong to this unregistered device.
        to_result(unsafe {
            bindings::drm_connector_attach_encoder(connector.as_raw(), encoder.as_raw())
        })
    }

    /// Creates the initial atomic state of every object (`drm_mode_config_create_initial_state()`).
    ///
    /// Call after all objects exist, before registration.
    pub fn create_initial_state(&self) -> Result {
        // SAFETY: The device is valid, its mode configuration initialised and it is not
        // registered, so no atomic commit can run concurrently.
        to_result(unsafe { bindings::drm_mode_config_create_initial_state(self.as_raw()) })
    }

    extern "C" fn mode_valid_callback(
        dev: *mut bindings::drm_device,
        mode: *const bindings::drm_display_mode,
    ) -> bindings::drm_mode_status {
        // SAFETY: The DRM core passes a valid device of this driver, which stays alive for the
        // call.
        let dev = unsafe { drm::Device::<T>::from_raw(dev) };
        // SAFETY: `mode` is valid for the duration of the call.
        let mode = unsafe { mode::DisplayMode::from_raw(mode) };
        T::mode_valid(dev, mode).as_raw()
    }
}

/// A registered KMS device.
///
/// Wraps [`drm::Registration`]: it registers the device, then starts the fbdev emulation
/// (`drm_client_setup()`). On drop the device is unplugged (so hooks can no longer enter the
/// registration guard) and then the display pipeline is shut down
/// (`drm_atomic_helper_shutdown()`), leaving no commit in flight.
pub struct Registration<'a, T: KmsDriver> {
    reg: ManuallyDrop<drm::Registration<'a, T>>,
    drm: ARef<drm::Device<T>>,
}

impl<'a, T: KmsDriver> Registration<'a, T> {
    /// Registers `drm`, whose [`ModeConfig`] must be complete, and starts the fbdev emulation.
    ///
    /// # Safety
    ///
    /// As for [`drm::Registration::new`]: the returned value must not be forgotten.
    pub unsafe fn new<E>(
        dev: &'a device::Device<device::Bound>,
        drm: drm::UnregisteredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'a>, E>,
        flags: usize,
    ) -> Result<Self>
    where
        Error: From<E>,
    {
        // SAFETY: Forwarded from the caller.
        let reg = unsafe { drm::Registration::new(dev, drm, reg_data, flags)? };
        let drm: ARef<drm::Device<T>> = reg.device().into();

        // SAFETY: The device is registered with a complete mode configuration; a NULL format
        // lets the client pick one from the preferred depth.
        unsafe { bindings::drm_client_setup(drm.as_raw(), core::ptr::null()) };

        Ok(Self {
            reg: ManuallyDrop::new(reg),
            drm,
        })
    }

    /// The registered device.
    pub fn device(&self) -> &drm::Device<T> {
        &self.drm
    }
}

impl<T: KmsDriver> Drop for Registration<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `reg` is dropped exactly once, here; this unplugs the device.
        unsafe { ManuallyDrop::drop(&mut self.reg) };
        // SAFETY: The device is valid (we hold a reference) and was registered with a mode
        // configuration. Hooks run by the shutdown commit fail to enter the registration guard
        // from now on, so they leave the unbound hardware alone.
        unsafe { bindings::drm_atomic_helper_shutdown(self.drm.as_raw()) };
    }
}

// SAFETY: Like `drm::Registration`, this offers no access to shared state.
unsafe impl<T: KmsDriver> Sync for Registration<'_, T> {}

// SAFETY: Registration and shutdown can happen on any thread.
unsafe impl<T: KmsDriver> Send for Registration<'_, T> {}
