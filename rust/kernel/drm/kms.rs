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
    pub fn as_raw(self) -> bindings::drm_mode_status {
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

    /// Filters modes for the whole device (e.g. by available scanout memory).
    ///
    /// Called for every mode a connector reports and for every mode userspace asks for (through
    /// the CRTC's mode check, which first refuses refresh rates, and vblank timer rates,
    /// outside [`crtc::MIN_REFRESH_HZ`]..=[`crtc::MAX_REFRESH_HZ`]).
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

/// Applies a checked commit (`atomic_commit_tail`). Unlike `drm_atomic_helper_commit_tail()`,
/// CRTCs are enabled before their planes are updated and flushed, so the flush arms the
/// commit's event for a vblank of the running timer rather than sending it at once; and the
/// commit then waits for its own events (`flip_done`) rather than for the next vblank count: a
/// later commit may turn the CRTC off before that vblank, which sends pending events but stops
/// the count, and the wait for the count would time out.
extern "C" fn commit_tail_callback(state: *mut bindings::drm_atomic_commit) {
    // SAFETY: The atomic helpers call this with a checked commit they own until it returns;
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

    const HELPER_FUNCS: bindings::drm_mode_config_helper_funcs =
        bindings::drm_mode_config_helper_funcs {
            atomic_commit_tail: Some(commit_tail_callback),
            // SAFETY: All other members are optional function pointers, for which zero is
            // `None`.
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

    /// The device being set up.
    pub fn drm(&self) -> &'a drm::UnregisteredDevice<T> {
        self.drm
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::drm_device {
        self.drm.as_raw()
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
    pub(crate) unsafe fn new_object<M, E>(
        &self,
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
        // caller), which `'a`, a borrow of the unregistered device, cannot outlast.
        Ok(unsafe { &*raw })
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
    /// Registers `drm`, whose [`ModeConfig`] must be complete, and starts the fbdev emulation.
    ///
    /// `dev` must be the parent of `drm` (`EINVAL` otherwise).
    pub fn new<E>(
        dev: &'a device::Device<device::Bound>,
        drm: drm::UnregisteredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'a>, E>,
        flags: usize,
    ) -> Result<Self>
    where
        Error: From<E>,
    {
        let reg_data = Self::register(dev, &drm, reg_data, flags)?;
        let drm: ARef<drm::Device<T>> = (&*drm).into();
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
        drm: &drm::UnregisteredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'b>, E>,
        flags: usize,
    ) -> Result<Pin<KBox<T::RegistrationData<'b>>>>
    where
        Error: From<E>,
    {
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

        // SAFETY: `drm` is a valid, initialised, unregistered DRM device.
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

    /// The registered device.
    pub fn device(&self) -> &drm::Device<T> {
        &self.drm
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
        drm: drm::UnregisteredDevice<T>,
        reg_data: impl PinInit<T::RegistrationData<'static>, E>,
        flags: usize,
    ) -> Result
    where
        Error: From<E>,
    {
        // Allocate first: once registered, nothing may fail before the teardown is in place.
        let slot = KBox::<ForeignRegistration<T>>::new_uninit(GFP_KERNEL)?;
        let reg_data = Self::register(dev, &drm, reg_data, flags)?;
        let drm: ARef<drm::Device<T>> = (&*drm).into();
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
