// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DRM kernel modesetting (KMS).
//!
//! C header: [`include/drm/drm_mode_config.h`](srctree/include/drm/drm_mode_config.h)
//!
//! A display driver implements [`KmsDriver`] beside [`drm::Driver`] and sets
//! [`drm::Driver::MODESET`] to [`modeset_ops`]. In probe it then goes through four types, each
//! made only from the one before, so the order the DRM core needs is not a convention:
//!
//! 1. [`drm::UnregisteredDevice`]: the device, not visible to userspace;
//! 2. [`ModeConfig`], which takes the device over ([`ModeConfig::init`]): the driver creates its
//!    objects through it: planes ([`plane::Plane`]), CRTCs ([`crtc::Crtc`]), encoders
//!    ([`encoder::Encoder`]) and connectors ([`connector::Connector`]), each carrying driver
//!    data whose type implements the object's driver trait;
//! 3. [`ConfiguredDevice`], from [`ModeConfig::finish`], which checks the objects (every CRTC
//!    has a primary plane, every plane a CRTC, every encoder CRTCs, every connector an
//!    encoder), sets up vblank handling for the CRTCs it created and creates the initial
//!    atomic state, or fails;
//! 4. [`Registration`], which registers only a [`ConfiguredDevice`], starts the fbdev emulation
//!    and, when dropped, unplugs the device and shuts the display pipeline down.
//!
//! ```ignore,compile_fail
//! // Registering a device whose mode configuration was not finished does not compile:
//! // `Registration::new` takes a `ConfiguredDevice`, not a `drm::UnregisteredDevice` or a
//! // `ModeConfig`. (`ignore`: the kernel's doctests cannot check `compile_fail`.)
//! let mc = kms::ModeConfig::init(drm)?;
//! kms::Registration::new(parent, mc, reg_data, 0)?;
//! ```
//!
//! The objects live as long as the [`drm::Device`]: the DRM core destroys them through their
//! `destroy` hooks when the device is released, never earlier. The atomic machinery is the C one
//! (`drm_atomic_helper_check()` and `drm_atomic_helper_commit()`); drivers see typed, read-only
//! states in their hooks.
//!
//! # Layers
//!
//! The object modules ([`plane`], [`crtc`], [`encoder`], [`connector`], with [`mode`],
//! [`format`] and [`damage`]) carry no policy: planes of every [`plane::PlaneType`], a plain
//! [`plane::PlaneState`], CRTCs with the vblank source their driver names, connectors that
//! detect. Policy comes from helper modules, named after the C files they wrap, which a driver
//! chooses in its trait implementations:
//!
//! - [`gem_atomic_helper`] (`drm_gem_atomic_helper.c`): shadow-buffered planes, whose
//!   framebuffer is mapped during commits and whose damage is copied to scanout memory; chosen
//!   with `type State = ShadowPlaneState` in [`plane::DriverPlane`];
//! - [`vblank_helper`] (`drm_vblank_helper.c`): a software vblank timer for modes of 30 to
//!   1000 Hz; chosen with `type Vblank = VblankTimer` in [`crtc::DriverCrtc`];
//! - [`atomic_helper`] (`drm_atomic_helper.c`): the order of a commit's steps; chosen with
//!   [`KmsDriver::COMMIT_TAIL`].
//!
//! Framebuffers are GEM framebuffers (`drm_gem_fb_create_with_dirty()`) of the C GEM helpers'
//! objects (dumb buffers, fbdev); they are never handled as Rust GEM objects here.
//!
//! Hooks that touch hardware receive the device in the [`drm::Ioctl`] context: they only run for
//! a device that has been registered (atomic commits come from userspace or from clients started
//! by [`Registration`]), and the driver enters [`drm::Device::registration_guard`] to reach its
//! bound resources, exactly as C drivers use `drm_dev_enter()`.

pub mod atomic_helper;
pub mod connector;
pub mod crtc;
pub mod damage;
pub mod encoder;
pub mod format;
pub mod gem_atomic_helper;
pub mod mode;
pub mod plane;
pub mod vblank_helper;

use crate::{
    bindings,
    container_of,
    device,
    drm::{
        self,
        driver::ModesetOps, //
    },
    error::to_result,
    prelude::*,
    sync::aref::ARef, //
};
use core::marker::PhantomData;

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
    /// The pixel clock (or the refresh rate it gives) is too low.
    pub const CLOCK_LOW: Self = Self(bindings::drm_mode_status_MODE_CLOCK_LOW);
    /// The pixel clock (or the refresh rate it gives) is too high.
    pub const CLOCK_HIGH: Self = Self(bindings::drm_mode_status_MODE_CLOCK_HIGH);
    /// The mode is unusable for another reason.
    pub const ERROR: Self = Self(bindings::drm_mode_status_MODE_ERROR);

    /// The raw `enum drm_mode_status` value.
    pub(crate) fn as_raw(self) -> bindings::drm_mode_status {
        self.0
    }
}

/// Whether the kernel was told to leave the display to firmware drivers (`nomodeset`).
///
/// Drivers whose `modeset` parameter is left at its default should then not bind.
pub fn firmware_drivers_only() -> bool {
    // SAFETY: `video_firmware_drivers_only()` only reads a flag set from the command line.
    unsafe { bindings::video_firmware_drivers_only() }
}

/// A DRM driver with a display.
///
/// Implemented beside [`drm::Driver`]; see the [module documentation](self) for the flow.
#[vtable]
pub trait KmsDriver: drm::Driver + Sized {
    /// Limits and preferences of the mode configuration.
    const MODE_CONFIG: ModeConfigInfo;

    /// How checked commits are applied; see [`atomic_helper::CommitTail`].
    const COMMIT_TAIL: atomic_helper::CommitTail = atomic_helper::CommitTail::Helper;

    /// Filters modes for the whole device (e.g. by available scanout memory); the default
    /// accepts every mode.
    ///
    /// Called for every mode a connector reports and for every mode userspace asks for (through
    /// the CRTCs' mode checks, after those of their vblank source, e.g. the refresh rates
    /// [`vblank_helper::VblankTimer`] can pace): both happen on registered devices only.
    fn mode_valid(_dev: &drm::Device<Self, drm::Ioctl>, _mode: &mode::DisplayMode) -> ModeStatus {
        ModeStatus::OK
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

impl<T: KmsDriver> drm::Device<T, drm::Ioctl> {
    /// Runs `f` with the registration data (the driver's bound resources), unless the device
    /// is being unplugged: [`drm::Device::registration_guard`] held for one call.
    pub fn with_registration_data<R>(
        &self,
        f: impl for<'a> FnOnce(&'a T::RegistrationData<'a>) -> R,
    ) -> Option<R> {
        let guard = self.registration_guard()?;
        Some(guard.registration_data_with(f))
    }
}

/// Per-file data of a KMS driver without ioctls of its own, for [`drm::Driver::File`].
pub struct PlainFile<T>(PhantomData<fn() -> T>);

impl<T: drm::Driver> drm::file::DriverFile for PlainFile<T> {
    type Driver = T;

    fn open(_dev: &drm::Device<T>) -> Result<Pin<KBox<Self>>> {
        Ok(KBox::new(Self(PhantomData), GFP_KERNEL)?.into())
    }
}

/// Driver data of the GEM objects of a KMS driver whose buffers all come from the C helpers,
/// for `type Object = gem::shmem::Object<PlainObject<Self>>` in [`drm::Driver`].
///
/// Dumb buffers and the fbdev buffer are plain C GEM shmem objects
/// (`drm_gem_shmem_dumb_create()`), read only through the kernel mapping of shadow-buffered
/// planes ([`gem_atomic_helper`]); none is ever of this type.
#[pin_data]
pub struct PlainObject<T> {
    _driver: PhantomData<fn() -> T>,
}

impl<T: drm::Driver + 'static> drm::gem::DriverObject for PlainObject<T> {
    type Driver = T;
    type Args = ();

    fn new(_dev: &drm::Device<T>, _size: usize, _args: ()) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver: PhantomData
        })
    }
}

/// The mode configuration of a device that is being set up.
///
/// It owns the unregistered device: objects are created through it, so they exist before the
/// device is registered, as the DRM core requires, and [`ModeConfig::finish`] turns it into the
/// only value [`Registration`] accepts.
pub struct ModeConfig<T: KmsDriver> {
    drm: drm::UnregisteredDevice<T>,
}

impl<T: KmsDriver> ModeConfig<T> {
    const FUNCS: bindings::drm_mode_config_funcs = bindings::drm_mode_config_funcs {
        fb_create: Some(bindings::drm_gem_fb_create_with_dirty),
        mode_valid: if T::HAS_MODE_VALID {
            Some(Self::mode_valid_callback)
        } else {
            None
        },
        atomic_check: Some(bindings::drm_atomic_helper_check),
        atomic_commit: Some(bindings::drm_atomic_helper_commit),
        ..pin_init::zeroed()
    };

    const HELPER_FUNCS: bindings::drm_mode_config_helper_funcs =
        bindings::drm_mode_config_helper_funcs {
            atomic_commit_tail: T::COMMIT_TAIL.as_raw(),
            ..pin_init::zeroed()
        };

    /// Initialises the mode configuration of `drm` (`drmm_mode_config_init()`).
    pub fn init(drm: drm::UnregisteredDevice<T>) -> Result<Self> {
        let raw = drm.as_raw();
        let info = &T::MODE_CONFIG;

        // SAFETY: `raw` is a valid, unregistered device, which `ModeConfig` owns from now on:
        // nothing else accesses `mode_config`. Taking `drm` by value means this runs once per
        // device. The managed release action tears the mode configuration down with the device.
        to_result(unsafe { bindings::drmm_mode_config_init(raw) })?;

        // SAFETY: As above; `drmm_mode_config_init()` succeeded.
        let mc = unsafe { &mut (*raw).mode_config };
        mc.min_width = info.min_width;
        mc.max_width = info.max_width;
        mc.min_height = info.min_height;
        mc.max_height = info.max_height;
        mc.preferred_depth = info.preferred_depth;
        mc.quirk_addfb_prefer_host_byte_order = info.prefer_host_byte_order;
        mc.funcs = &Self::FUNCS;
        mc.helper_private = &Self::HELPER_FUNCS;

        Ok(Self { drm })
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_device {
        self.drm.as_raw()
    }

    /// Whether `dev`, the device of some mode object, is the one being set up.
    pub(crate) fn owns(&self, dev: *mut bindings::drm_device) -> bool {
        core::ptr::eq(dev, self.as_raw())
    }

    /// Whether a CRTC of the device already has `plane` as its primary plane.
    pub(crate) fn crtc_with_primary(&self, plane: *mut bindings::drm_plane) -> bool {
        let mut found = false;
        // SAFETY: The device is valid, unregistered and owned by `self`, so its CRTC list does
        // not change; its entries are the `head` members of `struct drm_crtc`s.
        let _ = unsafe {
            for_each_entry(&raw const (*self.as_raw()).mode_config.crtc_list, |pos| {
                found |= core::ptr::eq(
                    (*container_of!(pos, bindings::drm_crtc, head)).primary,
                    plane,
                );
                Ok(())
            })
        };
        found
    }

    /// Allocates a mode object and hands it to the DRM core with `register`.
    ///
    /// `register` gets the allocation, initialised by `init`, and calls the C initialiser
    /// (`drm_*_init()`) on it. If it fails, the allocation is freed; once it succeeds, the object
    /// belongs to the DRM core, which frees it through its `destroy` hook (with
    /// [`KBox::from_raw`]) when the device is released.
    ///
    /// # Safety
    ///
    /// When `register` succeeds, the object's `destroy` hook must be the only place that frees
    /// it, and only when the device is released.
    pub(crate) unsafe fn new_object<'a, M, E>(
        &'a self,
        init: impl PinInit<M, E>,
        register: impl FnOnce(*mut M) -> Result,
    ) -> Result<&'a M>
    where
        Error: From<E>,
    {
        let new = KBox::pin_init(init, GFP_KERNEL)?;
        // SAFETY: The object never moves: it is freed only by rebuilding the box, either below
        // or in its `destroy` hook.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(new) });
        if let Err(e) = register(raw) {
            // SAFETY: The DRM core did not take the object; we still own the allocation.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(e);
        }
        // SAFETY: The DRM core frees the object when the device is released (guaranteed by the
        // caller). `self` owns a reference to the device, so that cannot happen during `'a`.
        Ok(unsafe { &*raw })
    }

    /// Attaches `encoder` to `connector` as a possible route.
    ///
    /// Fails with `EINVAL` if either object belongs to another device.
    pub fn attach_encoder<C: connector::DriverConnector<Driver = T>>(
        &self,
        connector: &connector::Connector<C>,
        encoder: &encoder::Encoder,
    ) -> Result {
        if !self.owns(connector.dev_raw()) || !self.owns(encoder.dev_raw()) {
            return Err(EINVAL);
        }
        // SAFETY: Both objects are initialised and belong to this unregistered device (checked
        // above), which nothing else accesses.
        to_result(unsafe {
            bindings::drm_connector_attach_encoder(connector.as_raw(), encoder.as_raw())
        })
    }

    /// Finishes the mode configuration: checks the objects, enables vblank handling for every
    /// CRTC (`drm_vblank_init()`) and creates the initial atomic state of every object
    /// (`drm_mode_config_create_initial_state()`).
    ///
    /// Fails with `EINVAL`, registering nothing, where `drm_dev_register()` would find a
    /// configuration the DRM core cannot use or warns about (`drm_mode_config_validate()`):
    /// no CRTC or no connector; a plane that no CRTC can use (a primary plane that is no CRTC's
    /// primary, an overlay or cursor plane never allowed on a CRTC); an encoder without CRTCs
    /// or with CRTCs that do not exist; a connector without an encoder.
    pub fn finish(self) -> Result<ConfiguredDevice<T>> {
        self.validate()?;
        let raw = self.as_raw();
        // SAFETY: The device is valid, unregistered and owned by `self`.
        let num_crtc = u32::try_from(unsafe { (*raw).mode_config.num_crtc })?;
        // SAFETY: As above; vblank is set up before registration, once (`self` is consumed).
        to_result(unsafe { bindings::drm_vblank_init(raw, num_crtc) })?;
        // SAFETY: As above; every object exists and no atomic commit can run concurrently.
        to_result(unsafe { bindings::drm_mode_config_create_initial_state(raw) })?;
        // INVARIANT: Checked, with vblank and the initial state set up just above.
        Ok(ConfiguredDevice { drm: self.drm })
    }

    /// The checks of [`ModeConfig::finish`].
    fn validate(&self) -> Result {
        let raw = self.as_raw();
        // SAFETY: The device is valid and unregistered, and `self` owns it: nothing changes its
        // mode configuration while we read it.
        let mc = unsafe { &(*raw).mode_config };
        let num_crtc = u32::try_from(mc.num_crtc)?;
        if num_crtc == 0 || mc.num_connector == 0 {
            return Err(EINVAL);
        }
        // `drm_crtc_init_with_planes()` refuses a 33rd CRTC.
        let all_crtcs = u32::MAX >> (32 - num_crtc.min(32));

        // SAFETY: The lists belong to the mode configuration read above, which does not change;
        // their entries are the `head` members of the objects each list is named after.
        unsafe {
            for_each_entry(&raw const mc.plane_list, |pos| {
                let plane = &*container_of!(pos, bindings::drm_plane, head);
                // Primary planes get their CRTC in `drm_crtc_init_with_planes()`.
                if plane.possible_crtcs & all_crtcs == 0 {
                    return Err(EINVAL);
                }
                Ok(())
            })?;
            for_each_entry(&raw const mc.crtc_list, |pos| {
                let crtc = &*container_of!(pos, bindings::drm_crtc, head);
                if crtc.primary.is_null() {
                    return Err(EINVAL);
                }
                Ok(())
            })?;
            for_each_entry(&raw const mc.encoder_list, |pos| {
                let encoder = &*container_of!(pos, bindings::drm_encoder, head);
                if encoder.possible_crtcs == 0 || encoder.possible_crtcs & !all_crtcs != 0 {
                    return Err(EINVAL);
                }
                Ok(())
            })?;
            for_each_entry(&raw const mc.connector_list, |pos| {
                let connector = &*container_of!(pos, bindings::drm_connector, head);
                if connector.possible_encoders == 0 {
                    return Err(EINVAL);
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    extern "C" fn mode_valid_callback(
        dev: *mut bindings::drm_device,
        mode: *const bindings::drm_display_mode,
    ) -> bindings::drm_mode_status {
        // SAFETY: The DRM core passes a valid device of this driver, which stays alive for the
        // call; modes are validated when connectors are probed (GETCONNECTOR, clients) and in
        // atomic checks, which only happen on registered devices.
        let dev = unsafe { drm::Device::<T, drm::Ioctl>::from_raw(dev) };
        // SAFETY: `mode` is valid for the duration of the call.
        let mode = unsafe { mode::DisplayMode::from_raw(mode) };
        T::mode_valid(dev, mode).as_raw()
    }
}

/// Calls `f` with every entry of the list at `head` until it fails.
///
/// # Safety
///
/// `head` is an initialised `struct list_head` that does not change during the call.
unsafe fn for_each_entry(
    head: *const bindings::list_head,
    mut f: impl FnMut(*mut bindings::list_head) -> Result,
) -> Result {
    // SAFETY: `head` is valid (guaranteed by the caller).
    let mut pos = unsafe { (*head).next };
    while !core::ptr::eq(pos, head) {
        f(pos)?;
        // SAFETY: `pos` is an entry of the unchanging list, hence valid.
        pos = unsafe { (*pos).next };
    }
    Ok(())
}

/// A device whose mode configuration is finished: the objects are checked, vblank handling
/// is set up and every object has its initial state. Made only by [`ModeConfig::finish`], it is
/// what [`Registration`] registers.
///
/// # Invariants
///
/// `drm` has a mode configuration that passed [`ModeConfig::finish`]'s checks, vblank set up
/// for its CRTCs and an initial atomic state; no object can be added any more.
pub struct ConfiguredDevice<T: KmsDriver> {
    drm: drm::UnregisteredDevice<T>,
}

/// A registered KMS device.
///
/// Registers the device and starts the fbdev emulation (`drm_client_setup()`). Teardown
/// unplugs the device, so hooks can no longer enter the registration guard, and then shuts the
/// display pipeline down (`drm_atomic_helper_shutdown()`), leaving no commit in flight. It runs
/// when the `Registration` is dropped or, at the latest, when the parent device is unbound:
/// the teardown is a device-managed action, so even a leaked `Registration` cannot leave the
/// registration data reachable after the binding ends. That is what makes [`Registration::new`]
/// safe, unlike [`drm::Registration::new`].
///
/// # Invariants
///
/// `drm` is registered and has a device-managed teardown action on `parent` (`Self::teardown`
/// with `drm` as its data) that holds a reference to `drm`; `reg_data` is what `drm`'s
/// registration data points to.
pub struct Registration<'a, T: KmsDriver> {
    drm: ARef<drm::Device<T>>,
    parent: &'a device::Device<device::Bound>,
    _reg_data: Pin<KBox<T::RegistrationData<'a>>>,
}

impl<'a, T: KmsDriver> Registration<'a, T> {
    /// Registers `drm` and starts the fbdev emulation.
    ///
    /// `dev` must be the parent of `drm` (`EINVAL` otherwise).
    pub fn new<E>(
        dev: &'a device::Device<device::Bound>,
        drm: ConfiguredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'a>, E>,
        flags: usize,
    ) -> Result<Self>
    where
        Error: From<E>,
    {
        let reg_data = Self::register(dev, &drm, reg_data, flags)?;
        let drm: ARef<drm::Device<T>> = (&*drm.drm).into();
        let raw = drm.as_raw();

        // SAFETY: `raw` is valid; this reference is owned by the teardown action.
        unsafe { bindings::drm_dev_get(raw) };
        // SAFETY: `dev` is bound; `teardown` matches the expected signature and its data is the
        // registered device, kept alive by the reference taken above. On failure the action
        // runs at once, tearing the device down before `reg_data` is dropped on return.
        to_result(unsafe {
            bindings::devm_add_action_or_reset(dev.as_raw(), Some(Self::teardown), raw.cast())
        })?;
        Self::start_clients(&drm);

        // INVARIANT: Registered, with the teardown action added above.
        Ok(Self {
            drm,
            parent: dev,
            _reg_data: reg_data,
        })
    }

    /// Checks the parent, publishes the registration data and registers `drm`.
    fn register<'b, E>(
        dev: &device::Device<device::Bound>,
        config: &ConfiguredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'b>, E>,
        flags: usize,
    ) -> Result<Pin<KBox<T::RegistrationData<'b>>>>
    where
        Error: From<E>,
    {
        let drm = &config.drm;
        let parent = drm.as_ref();
        if parent.as_ref().as_raw() != dev.as_raw() {
            return Err(EINVAL);
        }
        let reg_data: Pin<KBox<T::RegistrationData<'b>>> = KBox::pin_init(reg_data, GFP_KERNEL)?;

        let ptr: core::ptr::NonNull<T::RegistrationData<'static>> =
            core::ptr::NonNull::from(Pin::get_ref(reg_data.as_ref())).cast();
        // SAFETY: The device is not registered yet, so nothing else accesses the pointer. It is
        // only dereferenced inside the registration guard, which the teardown action closes
        // before the registration data can go away.
        unsafe { *drm.registration_data.get() = ptr };

        // SAFETY: `drm` is a valid, unregistered DRM device whose mode configuration was
        // finished (the invariant of `ConfiguredDevice`).
        let ret = unsafe { bindings::drm_dev_register(drm.as_raw(), flags) };
        if let Err(e) = to_result(ret) {
            // SAFETY: A failed `drm_dev_register()` leaves the device unregistered, so nobody
            // reads the pointer concurrently.
            unsafe { *drm.registration_data.get() = core::ptr::NonNull::dangling() };
            return Err(e);
        }
        Ok(reg_data)
    }

    /// Starts the in-kernel clients (the fbdev emulation) on a registered device.
    fn start_clients(drm: &drm::Device<T>) {
        // SAFETY: The device is registered with a complete mode configuration; a NULL format
        // lets the client pick one from the preferred depth.
        unsafe { bindings::drm_client_setup(drm.as_raw(), core::ptr::null()) };
    }

    /// Unplugs and shuts down a registered device: the first half of every teardown.
    ///
    /// # Safety
    ///
    /// `raw` is a registered `struct drm_device` of a `T`, valid for the call, torn down once.
    unsafe fn unplug(raw: *mut bindings::drm_device) {
        // SAFETY: By the function's requirements `raw` is a registered device. After
        // `drm_dev_unplug()` returns, no registration guard is held or can be entered again
        // (its SRCU grace period has passed), so the registration data is unreachable.
        unsafe { bindings::drm_dev_unplug(raw) };
        // SAFETY: The device is valid and was registered with a mode configuration. Hooks run
        // by the shutdown commit fail to enter the registration guard from now on, so they
        // leave the hardware alone.
        unsafe { bindings::drm_atomic_helper_shutdown(raw) };
    }

    /// Device-managed teardown of a [`Registration`]: unplugs, shuts down, drops a reference.
    ///
    /// # Safety
    ///
    /// `data` is a registered `struct drm_device` of a `T` on which the caller owns a reference;
    /// called once (by the devres core, on unbind or through `devm_release_action()`).
    unsafe extern "C" fn teardown(data: *mut crate::ffi::c_void) {
        let raw = data.cast::<bindings::drm_device>();
        // SAFETY: By the function's requirements.
        unsafe { Self::unplug(raw) };
        // SAFETY: Drops the reference the action owned.
        unsafe { bindings::drm_dev_put(raw) };
    }

    /// Reports a vblank of the CRTC with [`crtc::Crtc::index`] `crtc`, from the driver's
    /// vblank interrupt handler (`drm_handle_vblank()`): counts it and sends the events due.
    ///
    /// For CRTCs whose vblank source is [`crtc::VblankIrq`]. Returns whether vblank handling
    /// was on for the CRTC; `false` also for a CRTC that does not exist.
    pub fn handle_vblank(&self, crtc: u32) -> bool {
        let raw = self.drm.as_raw();
        // SAFETY: The device is registered (type invariant), so `drm_vblank_init()` ran, in
        // `ModeConfig::finish()`, and `num_crtcs` no longer changes.
        if crtc >= unsafe { (*raw).num_crtcs } {
            return false;
        }
        // SAFETY: The device is registered with vblank handling for `num_crtcs` CRTCs, and
        // `crtc` is one of them.
        unsafe { bindings::drm_handle_vblank(raw, crtc) }
    }

    /// Turns the display pipeline off for a system shutdown (`drm_atomic_helper_shutdown()`).
    ///
    /// For the parent bus driver's shutdown hook: the device stays registered, but nothing is
    /// left scanning out or in flight.
    pub fn shutdown(&self) {
        // SAFETY: The device is registered (type invariant) with a mode configuration.
        unsafe { bindings::drm_atomic_helper_shutdown(self.drm.as_raw()) };
    }

    /// Saves the display state and turns the pipeline off, for system suspend
    /// (`drm_mode_config_helper_suspend()`); [`Registration::resume`] restores it.
    pub fn suspend(&self) -> Result {
        // SAFETY: The device is registered (type invariant) with a mode configuration.
        to_result(unsafe { bindings::drm_mode_config_helper_suspend(self.drm.as_raw()) })
    }

    /// Restores the display state saved by [`Registration::suspend`]
    /// (`drm_mode_config_helper_resume()`): every plane is redrawn in full.
    pub fn resume(&self) -> Result {
        // SAFETY: The device is registered (type invariant) with a mode configuration.
        to_result(unsafe { bindings::drm_mode_config_helper_resume(self.drm.as_raw()) })
    }
}

impl<T: KmsDriver> Drop for Registration<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the action with exactly these arguments is registered
        // on `parent`, which is still bound while `'a` lasts. Releasing it runs it now, once,
        // and removes it; `reg_data` is dropped only after it returns.
        unsafe {
            bindings::devm_release_action(
                self.parent.as_raw(),
                Some(Self::teardown),
                self.drm.as_raw().cast(),
            )
        };
    }
}

/// A registration owned by the parent device's devres: see [`Registration::new_foreign_owned`].
struct ForeignRegistration<T: KmsDriver> {
    drm: ARef<drm::Device<T>>,
    _reg_data: Pin<KBox<T::RegistrationData<'static>>>,
}

impl<T: KmsDriver> Registration<'static, T> {
    /// Registers `drm` for as long as `dev` stays bound, and starts the fbdev emulation.
    ///
    /// For drivers without a binding of their own to keep a [`Registration`] in (e.g. on a faux
    /// device): the device is torn down, and `reg_data` dropped, when `dev` is unbound. The
    /// registration data therefore cannot borrow from the binding.
    pub fn new_foreign_owned<E>(
        dev: &device::Device<device::Bound>,
        drm: ConfiguredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'static>, E>,
        flags: usize,
    ) -> Result
    where
        Error: From<E>,
    {
        // Allocate first: once registered, nothing may fail before the teardown is in place.
        let slot = KBox::<ForeignRegistration<T>>::new_uninit(GFP_KERNEL)?;
        let reg_data = Self::register(dev, &drm, reg_data, flags)?;
        let drm: ARef<drm::Device<T>> = (&*drm.drm).into();
        let owned = slot.write(ForeignRegistration {
            drm: drm.clone(),
            _reg_data: reg_data,
        });
        // SAFETY: `dev` is bound; `teardown_owned` matches the expected signature and takes
        // back the box leaked here, which holds a reference to the registered device. On
        // failure the action runs at once.
        to_result(unsafe {
            bindings::devm_add_action_or_reset(
                dev.as_raw(),
                Some(Self::teardown_owned),
                KBox::into_raw(owned).cast(),
            )
        })?;
        Self::start_clients(&drm);
        Ok(())
    }

    /// Device-managed teardown of a foreign-owned registration.
    ///
    /// # Safety
    ///
    /// `data` comes from `KBox::into_raw()` of a `ForeignRegistration<T>` whose device is
    /// registered; called once, by the devres core.
    unsafe extern "C" fn teardown_owned(data: *mut crate::ffi::c_void) {
        // SAFETY: By the function's requirements, we own the box.
        let owned = unsafe { KBox::from_raw(data.cast::<ForeignRegistration<T>>()) };
        // SAFETY: The device is registered and torn down only here.
        unsafe { Self::unplug(owned.drm.as_raw()) };
        // The registration data is unreachable now; free it with the device reference.
        drop(owned);
    }
}

// SAFETY: `Registration` offers no access to shared state; dropping it on another thread only
// runs the device-managed teardown.
unsafe impl<T: KmsDriver> Sync for Registration<'_, T> {}

// SAFETY: Registration and shutdown can happen on any thread.
unsafe impl<T: KmsDriver> Send for Registration<'_, T> {}

/// Every mode configuration the checks of [`ModeConfig::finish`] and of the object constructors
/// refuse, each shown refused, and the smallest one they accept.
#[macros::kunit_tests(rust_drm_kms_config)]
mod tests {
    use super::*;
    use crate::{
        device::DeviceContext,
        drm::{
            gem,
            Ioctl, //
        },
        faux,
    };
    use connector::{
        Connector,
        ConnectorType,
        DriverConnector,
        ModeProbe, //
    };
    use crtc::{
        Crtc,
        DriverCrtc, //
    };
    use encoder::{
        Encoder,
        EncoderType, //
    };
    use format::Format;
    use plane::{
        DriverPlane,
        Plane,
        PlaneState,
        PlaneType, //
    };

    struct TestDriver;

    #[vtable]
    impl drm::Driver for TestDriver {
        type Data = ();
        type RegistrationData<'a> = ();
        type File = PlainFile<Self>;
        type Object = gem::shmem::Object<PlainObject<Self>>;
        type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

        const INFO: drm::DriverInfo = drm::DriverInfo {
            major: 0,
            minor: 0,
            patchlevel: 0,
            name: c"kunit_kms",
            desc: c"KUnit KMS",
        };
        const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
        const MODESET: Option<ModesetOps> = Some(modeset_ops::<Self>());
    }

    #[vtable]
    impl KmsDriver for TestDriver {
        const MODE_CONFIG: ModeConfigInfo = ModeConfigInfo {
            min_width: 1,
            max_width: 1024,
            min_height: 1,
            max_height: 1024,
            preferred_depth: 24,
            prefer_host_byte_order: false,
        };
    }

    struct TestPlane(PlaneType);

    #[vtable]
    impl DriverPlane for TestPlane {
        type Driver = TestDriver;
        type State = PlaneState;

        fn atomic_update(
            _plane: &Plane<Self>,
            _dev: &drm::Device<TestDriver, Ioctl>,
            _old: &PlaneState,
            _new: &PlaneState,
        ) {
        }
    }

    /// A CRTC with a vblank interrupt of its own (the software timer is a helper of its own,
    /// `vblank_helper`, which rbochs and the sample use).
    struct TestCrtc(u32);

    #[vtable]
    impl DriverCrtc for TestCrtc {
        type Driver = TestDriver;
        type Vblank = crtc::VblankIrq;

        fn enable_vblank(_crtc: &Crtc<Self>, _dev: &drm::Device<TestDriver, Ioctl>) -> Result {
            Ok(())
        }
    }

    struct TestConnector(u32);

    #[vtable]
    impl DriverConnector for TestConnector {
        type Driver = TestDriver;

        fn get_modes(
            _connector: &Connector<Self>,
            _dev: &drm::Device<TestDriver, Ioctl>,
            _probe: &mut ModeProbe<'_>,
        ) -> u32 {
            0
        }
    }

    const FORMATS: [Format; 1] = [Format::XRGB8888];

    /// A faux parent device, and a mode configuration on a DRM device of it.
    fn setup(name: &'static CStr) -> Result<(faux::Registration, ModeConfig<TestDriver>)> {
        let reg = faux::Registration::new(name, None)?;
        let drm = drm::UnregisteredDevice::<TestDriver>::new(reg.as_ref(), Ok(()))?;
        let mc = ModeConfig::init(drm)?;
        Ok((reg, mc))
    }

    fn plane(mc: &ModeConfig<TestDriver>, kind: PlaneType) -> Result<&Plane<TestPlane>> {
        Plane::new(mc, kind, &FORMATS, Ok(TestPlane(kind)))
    }

    /// Adds an encoder for `crtcs` and a connector routed through it.
    fn output(
        mc: &ModeConfig<TestDriver>,
        crtcs: crtc::CrtcMask,
    ) -> Result<&Connector<TestConnector>> {
        let encoder = Encoder::new(mc, EncoderType::VIRTUAL, crtcs)?;
        let connector = Connector::new(mc, ConnectorType::VIRTUAL, Ok(TestConnector(1)))?;
        mc.attach_encoder(connector, encoder)?;
        Ok(connector)
    }

    /// `finish()` fails with `EINVAL`.
    fn refused(mc: ModeConfig<TestDriver>) -> bool {
        matches!(mc.finish(), Err(e) if e == EINVAL)
    }

    #[test]
    fn complete_config_finishes() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_ok")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        let crtc = Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        let cursor = plane(&mc, PlaneType::Cursor)?;
        cursor.set_possible_crtcs(&mc, crtc.mask())?;
        assert_eq!(
            (primary.data().0, cursor.data().0),
            (PlaneType::Primary, PlaneType::Cursor)
        );
        assert_eq!(crtc.data().0, 0);
        assert_eq!(output(&mc, crtc.mask())?.data().0, 1);
        let configured = mc.finish()?;
        // SAFETY: The device is valid; `finish()` set up vblank handling for its one CRTC.
        assert_eq!(unsafe { (*configured.drm.as_raw()).num_crtcs }, 1);
        Ok(())
    }

    #[test]
    fn core_registration_refuses_kms_drivers() -> Result {
        let (reg, mc) = setup(c"kunit_kms_core")?;
        let fdev: &faux::Device<crate::device::Bound> = reg.as_ref();
        // SAFETY: The registration is dropped, not leaked, if it is made at all.
        let ret = unsafe { drm::Registration::new(fdev.as_ref(), mc.drm, Ok::<(), Error>(()), 0) };
        assert!(ret.is_err_and(|e| e == EINVAL));
        Ok(())
    }

    #[test]
    fn two_crtcs_get_vblank_handling() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_vblank")?;
        let first = Crtc::new(&mc, plane(&mc, PlaneType::Primary)?, Ok(TestCrtc(0)))?;
        let second = Crtc::new(&mc, plane(&mc, PlaneType::Primary)?, Ok(TestCrtc(1)))?;
        assert_eq!((first.index(), second.index()), (0, 1));
        output(&mc, first.mask() | second.mask())?;
        let configured = mc.finish()?;
        // SAFETY: The device is valid; `finish()` set up vblank handling for both CRTCs.
        assert_eq!(unsafe { (*configured.drm.as_raw()).num_crtcs }, 2);
        Ok(())
    }

    #[test]
    fn empty_config_refused() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_empty")?;
        assert!(refused(mc));
        Ok(())
    }

    #[test]
    fn config_without_connector_refused() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_noconn")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        assert!(refused(mc));
        Ok(())
    }

    #[test]
    fn connector_without_encoder_refused() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_noenc")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        Connector::new(&mc, ConnectorType::VIRTUAL, Ok(TestConnector(0)))?;
        assert!(refused(mc));
        Ok(())
    }

    #[test]
    fn encoder_without_crtc_refused() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_encmask")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        output(&mc, crtc::CrtcMask::default())?;
        assert!(refused(mc));
        Ok(())
    }

    #[test]
    fn orphan_planes_refused() -> Result {
        // A primary plane that is no CRTC's primary.
        let (_reg, mc) = setup(c"kunit_kms_orphan")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        let crtc = Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        plane(&mc, PlaneType::Primary)?;
        output(&mc, crtc.mask())?;
        assert!(refused(mc));

        // An overlay plane no CRTC may use.
        let (_reg2, mc) = setup(c"kunit_kms_overlay")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        let crtc = Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        plane(&mc, PlaneType::Overlay)?;
        output(&mc, crtc.mask())?;
        assert!(refused(mc));
        Ok(())
    }

    #[test]
    fn crtc_needs_its_own_primary_plane() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_primary")?;
        let overlay = plane(&mc, PlaneType::Overlay)?;
        assert!(Crtc::new(&mc, overlay, Ok(TestCrtc(0))).is_err_and(|e| e == EINVAL));
        let primary = plane(&mc, PlaneType::Primary)?;
        Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        assert!(Crtc::new(&mc, primary, Ok(TestCrtc(0))).is_err_and(|e| e == EBUSY));
        Ok(())
    }

    #[test]
    fn objects_of_another_device_refused() -> Result {
        let (_reg_a, a) = setup(c"kunit_kms_a")?;
        let (_reg_b, b) = setup(c"kunit_kms_b")?;
        let primary_b = plane(&b, PlaneType::Primary)?;
        assert!(Crtc::new(&a, primary_b, Ok(TestCrtc(0))).is_err_and(|e| e == EINVAL));
        let crtc_b = Crtc::new(&b, primary_b, Ok(TestCrtc(0)))?;
        let overlay_b = plane(&b, PlaneType::Overlay)?;
        assert!(overlay_b
            .set_possible_crtcs(&a, crtc_b.mask())
            .is_err_and(|e| e == EINVAL));

        let encoder_b = Encoder::new(&b, EncoderType::VIRTUAL, crtc_b.mask())?;
        let connector_a = Connector::new(&a, ConnectorType::VIRTUAL, Ok(TestConnector(0)))?;
        assert!(a
            .attach_encoder(connector_a, encoder_b)
            .is_err_and(|e| e == EINVAL));
        Ok(())
    }
}
