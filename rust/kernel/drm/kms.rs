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
//!    and tears the device down (unplugs it, shuts the display pipeline down, drops the
//!    registration data) when dropped, when the parent is unbound or when the registering
//!    module goes away, whichever comes first.
//!
//! ```ignore,compile_fail
//! // Registering a device whose mode configuration was not finished does not compile:
//! // `Registration::new` takes a `ConfiguredDevice`, not a `drm::UnregisteredDevice` or a
//! // `ModeConfig`. (`ignore`: the kernel's doctests cannot check `compile_fail`.)
//! let mc = kms::ModeConfig::init(drm)?;
//! kms::Registration::new(parent, mc, make_reg_data, 0)?;
//! ```
//!
//! The objects live as long as the [`drm::Device`]: the DRM core destroys them through their
//! `destroy` hooks when the device is released, never earlier. The atomic machinery is the C one
//! (`drm_atomic_helper_check()` and `drm_atomic_helper_commit()`); drivers see typed states in
//! their hooks. Plane and CRTC states can carry driver data ([`state::StateData`], duplicated and
//! dropped with the state, as C drivers subclass their states): the atomic check decides what the
//! commit is to do and records it there, with the memory it needs, so the commit only carries the
//! decision out and neither fails nor allocates.
//!
//! # Layers
//!
//! The object modules ([`plane`], [`crtc`], [`encoder`], [`connector`], with [`mode`],
//! [`format`] and [`damage`]) bind the C objects: planes of every [`plane::PlaneType`], a plain
//! [`plane::PlaneState`], CRTCs with the vblank source their driver names, connectors that
//! detect. The policies they install for every device are listed below. What depends on the
//! class of hardware comes from helper modules, named after the C files they wrap, which a
//! driver chooses in its trait implementations:
//!
//! - [`gem_atomic_helper`] (`drm_gem_atomic_helper.c`): shadow-buffered planes, whose
//!   framebuffer is mapped during commits and whose damage is copied to scanout memory; chosen
//!   with `type State = ShadowPlaneState` in [`plane::DriverPlane`];
//! - [`vblank_helper`] (`drm_vblank_helper.c`): a software vblank timer for modes of 30 to
//!   1000 Hz; chosen with `type Vblank = VblankTimer` in [`crtc::DriverCrtc`];
//!
//! Framebuffers are GEM framebuffers (`drm_gem_fb_create_with_dirty()`) of the C GEM helpers'
//! objects (dumb buffers, fbdev); they are never handled as Rust GEM objects here.
//!
//! Hooks that touch hardware receive the device in the [`drm::Ioctl`] context: they only run for
//! a device that has been registered (atomic commits come from userspace or from clients started
//! by [`Registration`]), and the driver enters [`drm::Device::registration_guard`] to reach its
//! bound resources, exactly as C drivers use `drm_dev_enter()`.
//!
//! # Prior art
//!
//! The object model follows Lyude Paul's "Rust bindings for KMS + RVKMS" (RFC 2024-03, v2
//! 2024-09, v3 2025-03, <https://lore.kernel.org/all/20250305230406.567126-1-lyude@redhat.com/>)
//! and its review: one driver trait per object ([`KmsDriver`], [`plane::DriverPlane`],
//! [`crtc::DriverCrtc`], [`connector::DriverConnector`]), containers embedding the C object
//! beside the driver data, objects freed by the DRM core through their `destroy` hooks, and
//! helper states such as [`ShadowPlaneState`](gem_atomic_helper::ShadowPlaneState) chosen as a
//! plane's state type. Names are the same where the concept is. Where the two differ, and why:
//!
//! | Concept   | That series                     | This module                                 |
//! |-----------|---------------------------------|---------------------------------------------|
//! | Creation  | `create_objects()` callback     | [`ModeConfig`] to [`ConfiguredDevice`]      |
//! | Callbacks | `#[vtable]`, `build_error!()`   | `#[vtable]`, `HAS_*` or a C-helper default  |
//! | State     | driver-private subclasses       | sealed state types with driver data         |
//! | Register  | inside `drm::Registration`      | [`Registration`], device-managed teardown   |
//! | Helpers   | `VblankSupport`, commit tokens  | [`vblank_helper`], one commit tail          |
//!
//! - Creation: the setup order is types, not a callback: only a [`ModeConfig`] creates objects
//!   and only [`ModeConfig::finish`], which checks what `drm_dev_register()` would warn about,
//!   leads to a registration.
//! - Callbacks: a hook without an implementation stays NULL, as there; where every C driver
//!   writes the same hook, the default body calls the C helper its doc names.
//! - State: a plane's state type fixes the C state hooks, so the set of types is closed; driver
//!   data rides in plane and CRTC states as a type parameter ([`state::StateData`]), written only
//!   through the check ([`plane::PlaneCheck`], [`crtc::CrtcCheck`]) and read-only in the commit. No
//!   driver here needs driver-agnostic object types or owned object references yet.
//! - Registration: the teardown is device-managed and also runs when the registering module
//!   goes away, and the registration data can borrow only the parent device, so a leaked
//!   [`Registration`] leaves nothing reachable that could outlive what it points to.
//! - Helpers: C gained `drm_vblank_helper.c`, which is bound rather than re-implemented; the
//!   one commit tail, for timer-paced CRTCs, is not the driver's to put out of order.
//!
//! # Policies and where they live
//!
//! Besides binding the C objects, this module installs, for every device:
//!
//! - [`ModeConfig::init`]: `drm_atomic_helper_check()` and `drm_atomic_helper_commit()`, as
//!   every atomic C driver; framebuffers from `drm_gem_fb_create_with_dirty()`, which C
//!   drivers with shadow-buffered planes choose (others take `drm_gem_fb_create()`).
//! - [`ModeConfig::finish`] and [`crtc`]: vblank for every CRTC (`drm_vblank_init()`),
//!   switched with the CRTC and armed at flush, as `DRM_CRTC_HELPER_VBLANK_FUNCS`; C drivers
//!   opt in to it, here every CRTC has it.
//! - [`plane::DriverPlane::atomic_check`] and [`crtc::DriverCrtc::atomic_check`] defaults:
//!   `drm_atomic_helper_check_plane_state()` unscaled (a primary plane covering its CRTC) and
//!   `drm_atomic_helper_check_crtc_primary_plane()`, which C drivers call from their hooks.
//! - [`plane::Plane::new`]: `drm_plane_enable_fb_damage_clips()` on every plane, and, when a
//!   format has alpha, `drm_plane_create_blend_mode_property()` offering premultiplied only,
//!   the blending KMS assumes without the property; C drivers make both calls themselves.
//! - [`Registration`]: fbdev emulation (`drm_client_setup()`) at registration;
//!   `drm_dev_unplug()` and `drm_atomic_helper_shutdown()` at teardown, as C drivers do in
//!   probe and remove.
//! - [`gem_atomic_helper::ShadowPlaneData`], Rust only: the framebuffer being scanned out
//!   stays mapped between commits, where `drm_gem_begin_shadow_fb_access()` maps it for each;
//!   it saves setting up page tables and a TLB flush per update of a large shmem buffer.
//! - [`gem_atomic_helper::ShadowPlaneState::copy_clip`]: damage copied with `drm_fb_memcpy()`
//!   between `drm_gem_fb_begin_cpu_access()` and `drm_gem_fb_end_cpu_access()`, as the
//!   sysfb drivers do, after checks that the rectangle lies in the framebuffer and the
//!   destination in its memory.
//! - [`gem_atomic_helper::CopyStats`], Rust only: counters of damage copies. This is driver
//!   policy (debugfs) and is a candidate to move to the driver.
//! - [`debugfs`]: the driver's files in the DRM device's debugfs directory
//!   (`drm_debugfs_add_file()`), added at registration; reading one after an unplug fails with
//!   `ENODEV`.
//! - [`vblank_helper::refresh_status`], Rust only: modes the timer would run below 30 Hz or
//!   above 1000 Hz are refused; `DRM_CRTC_VBLANK_TIMER_FUNCS` filters none. Below 30 Hz the
//!   helpers' 100 ms vblank wait does not cover a frame; above 1000 Hz the timer floods the CPU.
//! - The commit tail (`atomic_helper.rs`), Rust only, for every device: the order of
//!   `drm_atomic_helper_commit_tail_rpm()` (CRTCs enabled before planes), but waiting for the
//!   commit's events (`drm_atomic_helper_wait_for_flip_done()`) rather than for vblanks, which
//!   stop when a timer-paced CRTC is turned off. Every CRTC is timer-paced so far; no C helper
//!   has this exact tail.

mod atomic_helper;
pub mod connector;
pub mod crtc;
pub mod damage;
pub mod debugfs;
pub mod encoder;
pub mod format;
pub mod gem_atomic_helper;
pub mod mode;
pub mod plane;
pub mod state;
pub mod vblank_helper;

use crate::{
    bindings, container_of, device,
    drm::{
        self,
        driver::ModesetOps, //
    },
    error::to_result,
    ffi::c_ulong,
    new_work,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Completion, //
    },
    types::Opaque,
    workqueue::{
        self,
        impl_has_work,
        Work,
        WorkItem, //
    },
};
use core::{
    cell::Cell,
    marker::PhantomData,
    ptr::{
        self,
        NonNull, //
    },
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
    pub(crate) fn as_raw(self) -> bindings::drm_mode_status {
        self.0
    }
}

/// Whether the kernel was told to leave the display to firmware drivers (`nomodeset`), in
/// which case a KMS driver does not register (see
/// [`module_kms_pci_driver!`](crate::module_kms_pci_driver)).
pub fn firmware_drivers_only() -> bool {
    // SAFETY: `video_firmware_drivers_only()` only reads a flag set from the command line.
    unsafe { bindings::video_firmware_drivers_only() }
}

/// Declares the kernel module of a PCI KMS driver, as C's `drm_module_pci_driver()` does:
/// like [`module_pci_driver!`](crate::module_pci_driver), except that when the kernel was
/// booted with `nomodeset` ([`firmware_drivers_only`]) the PCI driver is not registered, a
/// line says so, and loading the module fails with `ENODEV`.
///
/// As for new C drivers, there is no `modeset` parameter to override `nomodeset` (C's
/// `drm_module_pci_driver_if_modeset()` is kept for existing drivers only).
///
/// # Examples
///
/// ```ignore
/// kernel::module_kms_pci_driver! {
///     type: MyPciDriver,
///     name: "my_display",
///     authors: ["..."],
///     description: "...",
///     license: "GPL",
/// }
/// ```
#[macro_export]
macro_rules! module_kms_pci_driver {
    (type: $type:ty, $($f:tt)*) => {
        type Ops<T> = $crate::pci::Adapter<T>;

        #[$crate::prelude::pin_data]
        struct DriverModule {
            #[pin]
            _driver: $crate::driver::Registration<Ops<$type>>,
        }

        impl $crate::InPlaceModule for DriverModule {
            fn init(
                module: &'static $crate::ThisModule,
            ) -> impl ::pin_init::PinInit<Self, $crate::error::Error> {
                $crate::try_pin_init!(Self {
                    _driver <- {
                        if $crate::drm::kms::firmware_drivers_only() {
                            $crate::pr_info!("disabled by nomodeset\n");
                            return Err($crate::error::code::ENODEV);
                        }
                        $crate::driver::Registration::new(
                            <Self as $crate::ModuleMetadata>::NAME,
                            module,
                        )
                    },
                })
            }
        }

        $crate::prelude::module! {
            type: DriverModule,
            $($f)*
        }
    };
}

/// A DRM driver with a display.
///
/// Implemented beside [`drm::Driver`]; see the [module documentation](self) for the flow.
#[vtable]
pub trait KmsDriver: drm::Driver + Sized + 'static {
    /// Limits and preferences of the mode configuration.
    const MODE_CONFIG: ModeConfigInfo;

    /// Filters modes for the whole device (e.g. by available scanout memory); the default
    /// accepts every mode.
    ///
    /// Called for every mode a connector reports and for every mode userspace asks for (through
    /// the CRTCs' mode checks, after those of their vblank source, e.g. the refresh rates
    /// [`vblank_helper::VblankTimer`] can pace): both happen on registered devices only.
    fn mode_valid(_dev: &drm::Device<Self, drm::Ioctl>, _mode: &mode::DisplayMode) -> ModeStatus {
        ModeStatus::OK
    }

    /// The device's debugfs files, added to its DRM directory when it is registered; see
    /// [`debugfs`].
    const DEBUGFS_FILES: &'static [debugfs::DebugfsFile<Self>] = &[];
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
            atomic_commit_tail: Some(atomic_helper::commit_tail),
            ..pin_init::zeroed()
        };

    /// A KMS driver also says so in [`drm::Driver::MODESET`], which the DRM core's device
    /// vtable is built from: the two must agree, which the build checks.
    const MODESET_DECLARED: () = assert!(
        T::MODESET.is_some(),
        "a KmsDriver must set drm::Driver::MODESET to Some(kms::modeset_ops::<Self>())"
    );

    /// Initialises the mode configuration of `drm` (`drmm_mode_config_init()`).
    pub fn init(drm: drm::UnregisteredDevice<T>) -> Result<Self> {
        let () = Self::MODESET_DECLARED;
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

    /// The parent device, for messages.
    pub(crate) fn parent(&self) -> &device::Device {
        let parent: &T::ParentDevice<device::Normal> = (*self.drm).as_ref();
        parent.as_ref()
    }

    /// Fails with `ENOSPC` if the device has 32 objects of a kind the DRM core numbers with the
    /// bits of a `u32` (planes, CRTCs, encoders), which it refuses with a warning.
    ///
    /// `count` reads the number of such objects from the mode configuration.
    pub(crate) fn check_room(
        &self,
        kind: &str,
        count: impl FnOnce(&bindings::drm_mode_config) -> c_int,
    ) -> Result {
        // SAFETY: The device is valid and unregistered, and `self` owns it: nothing changes its
        // mode configuration while we read it.
        let n = count(unsafe { &(*self.as_raw()).mode_config });
        if n >= 32 {
            dev_err!(self.parent(), "no room for a 33rd {kind}\n");
            return Err(ENOSPC);
        }
        Ok(())
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
    /// Fails with `EINVAL`, registering nothing and logging which object breaks which rule,
    /// where `drm_dev_register()` would find a configuration the DRM core cannot use or warns
    /// about (`drm_mode_config_validate()`): no CRTC or no connector; a plane that no CRTC can
    /// use (a primary plane that is no CRTC's primary, an overlay or cursor plane never allowed
    /// on a CRTC); a CRTC whose primary plane may not be used on it; an encoder without CRTCs
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
        let dev = self.parent();
        let raw = self.as_raw();
        // SAFETY: The device is valid and unregistered, and `self` owns it: nothing changes its
        // mode configuration while we read it.
        let mc = unsafe { &(*raw).mode_config };
        let num_crtc = u32::try_from(mc.num_crtc)?;
        if num_crtc == 0 || mc.num_connector == 0 {
            dev_err!(
                dev,
                "mode configuration without a CRTC or without a connector\n"
            );
            return Err(EINVAL);
        }
        // Planes are primary planes, and each CRTC took one of its own (`Crtc::new`), which it
        // alone may use: only planes left without a CRTC remain to be found.
        let num_plane = u32::try_from(mc.num_total_plane)?;
        if num_plane != num_crtc {
            dev_err!(
                dev,
                "{num_plane} primary planes for {num_crtc} CRTCs: a plane without a CRTC\n"
            );
            return Err(EINVAL);
        }
        // At most 32 CRTCs: each has its own primary plane, and `Plane::new` refuses a 33rd.
        let all_crtcs = u32::MAX >> (32 - num_crtc.min(32));

        // SAFETY: The lists belong to the mode configuration read above, which does not change;
        // their entries are the `head` members of the objects each list is named after.
        unsafe {
            for_each_entry(&raw const mc.encoder_list, |pos| {
                let encoder = &*container_of!(pos, bindings::drm_encoder, head);
                if encoder.possible_crtcs == 0 || encoder.possible_crtcs & !all_crtcs != 0 {
                    dev_err!(
                        dev,
                        "encoder {} has CRTC mask {:#x}, the device {:#x}\n",
                        encoder.index,
                        encoder.possible_crtcs,
                        all_crtcs
                    );
                    return Err(EINVAL);
                }
                Ok(())
            })?;
            for_each_entry(&raw const mc.connector_list, |pos| {
                let connector = &*container_of!(pos, bindings::drm_connector, head);
                if connector.possible_encoders == 0 {
                    dev_err!(dev, "connector {} has no encoder\n", connector.index);
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
/// Registers the device and starts the fbdev emulation (`drm_client_setup()`). The teardown
/// unplugs the device, so hooks can no longer enter the registration guard, shuts the display
/// pipeline down (`drm_atomic_helper_shutdown()`), leaving no commit in flight, and drops the
/// registration data. It is device-managed: it runs when the `Registration` is dropped, when
/// the parent device is unbound, or when the module that registered the device goes away,
/// whichever comes first. A leaked `Registration` therefore leaves nothing reachable that could
/// outlive what it points to:
///
/// - the registration data is built by a closure that gets the parent device and must work
///   for every lifetime of it, so it can borrow the parent (which stays bound until the
///   teardown) and nothing shorter-lived:
///
///   ```ignore,compile_fail
///   let name = KBox::new(*b"rbochs", GFP_KERNEL)?;
///   // error[E0597]: `name` does not live long enough (the data must not borrow it)
///   kms::Registration::new(pdev, drm, |_| KBox::pin_init(Data { name: &name }, GFP_KERNEL), 0)?;
///   ```
///
///   (`ignore`: the kernel's doctests cannot check `compile_fail`.)
/// - the device's hooks live in the registering module, whose unloading tears the device down
///   even when the parent outlives the module (e.g. a faux device whose registration leaked).
///
/// A `Registration` is [`Send`] but not [`Sync`]: the power management entry points
/// ([`Registration::suspend`], [`Registration::resume`], [`Registration::shutdown`]) change
/// state the DRM core keeps per device, so they are called by one thread at a time, the one
/// that owns or borrows the registration (a bus driver's callbacks, which its bus serialises).
/// A driver must not call them from its own hooks (which the registration data, made before
/// the registration, cannot reach, but a registration kept in the device's `Data` could):
/// they take the mode configuration's locks, which a commit in progress holds.
///
/// # Invariants
///
/// `teardown` is the data of a `Teardown::action` devres action registered on `parent` for
/// `drm`, which is registered; `suspended` tells whether the state saved by
/// [`Registration::suspend`] is still to be restored.
pub struct Registration<'a, T: KmsDriver> {
    drm: ARef<drm::Device<T>>,
    parent: &'a device::Device<device::Bound>,
    teardown: NonNull<Teardown>,
    suspended: Cell<bool>,
}

/// What a registration's teardown owns: a reference to the device and the registration data.
struct Owned<T: KmsDriver> {
    reg_data: Pin<KBox<T::RegistrationData<'static>>>,
    drm: ARef<drm::Device<T>>,
}

impl<'a, T: KmsDriver> Registration<'a, T> {
    /// Registers `drm` and starts the fbdev emulation.
    ///
    /// `reg_data` builds the registration data from the parent device, typically by mapping the
    /// parent's resources; it runs before the device is visible to userspace. `parent` must be
    /// the parent of `drm` (`EINVAL` otherwise).
    pub fn new<F>(
        parent: &'a T::ParentDevice<device::Bound>,
        drm: ConfiguredDevice<T>,
        reg_data: F,
        flags: usize,
    ) -> Result<Self>
    where
        F: for<'b> FnOnce(
            &'b T::ParentDevice<device::Bound>,
        ) -> Result<Pin<KBox<T::RegistrationData<'b>>>>,
    {
        let (drm, teardown) = Self::register(parent, drm, reg_data, flags)?;
        // INVARIANT: Registered, with the teardown installed.
        Ok(Self {
            drm,
            parent: parent.as_ref(),
            teardown,
            suspended: Cell::new(false),
        })
    }

    /// Registers `drm` for as long as `parent` stays bound (and the registering module
    /// loaded), and starts the fbdev emulation: [`Registration::new`] for drivers without a
    /// binding of their own to keep the [`Registration`] in (e.g. on a faux device).
    pub fn new_foreign_owned<F>(
        parent: &'a T::ParentDevice<device::Bound>,
        drm: ConfiguredDevice<T>,
        reg_data: F,
        flags: usize,
    ) -> Result
    where
        F: for<'b> FnOnce(
            &'b T::ParentDevice<device::Bound>,
        ) -> Result<Pin<KBox<T::RegistrationData<'b>>>>,
    {
        // The teardown is device-managed: without a handle, it runs at unbind.
        Self::register(parent, drm, reg_data, flags).map(|_| ())
    }

    /// Registers `drm` with the registration data `reg_data` builds and installs the
    /// teardown; returns a reference to the device and the teardown.
    fn register<F>(
        parent: &T::ParentDevice<device::Bound>,
        drm: ConfiguredDevice<T>,
        reg_data: F,
        flags: usize,
    ) -> Result<(ARef<drm::Device<T>>, NonNull<Teardown>)>
    where
        F: for<'b> FnOnce(
            &'b T::ParentDevice<device::Bound>,
        ) -> Result<Pin<KBox<T::RegistrationData<'b>>>>,
    {
        let dev: &device::Device<device::Bound> = parent.as_ref();
        let drm = &drm.drm;
        let drm_parent: &T::ParentDevice<device::Normal> = (**drm).as_ref();
        if drm_parent.as_ref().as_raw() != dev.as_raw() {
            return Err(EINVAL);
        }
        // Allocate first: once registered, nothing may fail before the teardown is in place.
        let teardown = KBox::pin_init(Teardown::new::<T>(dev), GFP_KERNEL)?;
        let owned = KBox::<Owned<T>>::new_uninit(GFP_KERNEL)?;
        let reg_data = reg_data(parent)?;
        // SAFETY: Only the lifetime changes. The data borrows nothing shorter-lived than the
        // parent's binding (`reg_data` had to work for any lifetime of `parent`), and it is
        // dropped by the teardown, which runs at the latest when the parent is unbound.
        let reg_data: Pin<KBox<T::RegistrationData<'static>>> =
            unsafe { core::mem::transmute(reg_data) };

        let ptr = NonNull::from(Pin::get_ref(reg_data.as_ref()));
        // SAFETY: The device is not registered yet, so nothing else accesses the pointer. It is
        // only dereferenced inside the registration guard, which the teardown closes before it
        // drops the registration data.
        unsafe { *drm.registration_data.get() = ptr };
        // SAFETY: `drm` is a valid, unregistered DRM device whose mode configuration was
        // finished (the invariant of `ConfiguredDevice`).
        let ret = unsafe { bindings::drm_dev_register(drm.as_raw(), flags) };
        if let Err(e) = to_result(ret) {
            // SAFETY: A failed `drm_dev_register()` leaves the device unregistered, so nobody
            // reads the pointer concurrently.
            unsafe { *drm.registration_data.get() = NonNull::dangling() };
            return Err(e);
        }

        let drm: ARef<drm::Device<T>> = (&**drm).into();
        let owned = owned.write(Owned {
            reg_data,
            drm: drm.clone(),
        });
        // SAFETY: `run` takes the `Owned<T>` box `payload` is, whose device is registered.
        let teardown =
            unsafe { Teardown::install(teardown, KBox::into_raw(owned).cast(), Self::run)? };
        debugfs::DebugfsFile::add_all(&drm);
        Self::start_clients(&drm);
        Ok((drm, teardown))
    }

    /// Starts the in-kernel clients (the fbdev emulation) on a registered device.
    fn start_clients(drm: &drm::Device<T>) {
        // SAFETY: The device is registered with a complete mode configuration; a NULL format
        // lets the client pick one from the preferred depth.
        unsafe { bindings::drm_client_setup(drm.as_raw(), core::ptr::null()) };
    }

    /// The registration's own teardown: unplugs and shuts the device down, then drops the
    /// registration data and the teardown's reference to the device.
    ///
    /// # Safety
    ///
    /// `owned` comes from `KBox::into_raw()` of an `Owned<T>` whose device is registered;
    /// called once.
    unsafe fn run(owned: *mut c_void) {
        // SAFETY: By the function's requirements, we own the box.
        let owned = unsafe { KBox::from_raw(owned.cast::<Owned<T>>()) };
        let raw = owned.drm.as_raw();
        // SAFETY: `raw` is registered. After `drm_dev_unplug()` returns, no registration guard
        // is held or can be entered again (its SRCU grace period has passed), so the
        // registration data is unreachable.
        unsafe { bindings::drm_dev_unplug(raw) };
        // SAFETY: The device is valid and was registered with a mode configuration. Hooks run
        // by the shutdown commit fail to enter the registration guard from now on, so they
        // leave the hardware alone; the commit stops the CRTCs' vblank timers.
        unsafe { bindings::drm_atomic_helper_shutdown(raw) };
        // A state saved by `suspend()` and never restored holds references to framebuffers
        // and connectors, which the device's release would warn about.
        // SAFETY: The device is valid; no PM entry point runs any more (the `Registration`
        // is being dropped or was leaked, and its `&self` methods need the parent bound).
        unsafe {
            let saved = core::mem::replace(&mut (*raw).mode_config.suspend_state, ptr::null_mut());
            if !saved.is_null() {
                bindings::drm_atomic_commit_put(saved);
            }
        }
        let Owned { reg_data, drm } = KBox::into_inner(owned);
        drop(reg_data);
        drop(drm);
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
    ///
    /// Fails with `EBUSY` if a state saved before is still to be restored.
    pub fn suspend(&self) -> Result {
        if self.suspended.get() {
            return Err(EBUSY);
        }
        // SAFETY: The device is registered (type invariant) with a mode configuration, and no
        // saved state is pending, so none is overwritten (and leaked).
        to_result(unsafe { bindings::drm_mode_config_helper_suspend(self.drm.as_raw()) })?;
        self.suspended.set(true);
        Ok(())
    }

    /// Restores the display state saved by [`Registration::suspend`]
    /// (`drm_mode_config_helper_resume()`): every plane is redrawn in full.
    ///
    /// Fails with `EINVAL` if no state was saved (the C function warns then).
    pub fn resume(&self) -> Result {
        if !self.suspended.replace(false) {
            return Err(EINVAL);
        }
        // SAFETY: The device is registered (type invariant) with a mode configuration and a
        // saved state, which the call consumes whether or not it succeeds.
        to_result(unsafe { bindings::drm_mode_config_helper_resume(self.drm.as_raw()) })
    }
}

impl<T: KmsDriver> Drop for Registration<'_, T> {
    fn drop(&mut self) {
        let data = self.teardown.as_ptr().cast();
        // SAFETY: `parent` is bound while `'a` lasts. Only the pointer is compared.
        let removed = unsafe {
            bindings::devm_remove_action_nowarn(self.parent.as_raw(), Some(Teardown::action), data)
        };
        // Not found: the devres core is releasing the parent's resources (this registration
        // is dropped from inside another device-managed release) or the module notifier took
        // it; either runs the teardown.
        if removed == 0 {
            // SAFETY: Taking the action off the device made running it ours, once.
            unsafe { Teardown::action(data) };
        }
    }
}

// SAFETY: The teardown pointer is only handed back to the devres core (`Drop`), which may happen
// on any thread; the registration data is `Send`. `Registration` is not `Sync`: see its
// documentation.
unsafe impl<T: KmsDriver> Send for Registration<'_, T> {}

/// The device-managed end of every [`Registration`]: a devres action on the parent device and a
/// module notifier, either of which runs the registration's teardown once.
///
/// It is not generic, so the code that runs last for a registration, after the registration's
/// own teardown (monomorphised in the registering module) has returned, is the kernel's; that
/// is what lets the module notifier tear a registration down while its module goes away.
///
/// # Invariants
///
/// - `run` is called once with `payload`, by [`Teardown::action`] (on unbind or
///   [`Registration`]'s drop) or by [`Teardown::module_going`], whichever first takes the
///   devres action off `parent`; `ran` is completed after it returned.
/// - From [`Teardown::install`] until the worker `retire` queues frees it, `nb` is on the
///   module notifier chain if `registered` (the registering code is not built in); `owner`
///   is cleared once the module notifier has run `run`.
#[pin_data]
struct Teardown {
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    /// A reference, so the module notifier can look the devres action up even after the
    /// parent was unbound and released by everybody else.
    parent: ARef<device::Device>,
    /// The registering module, as an address (0 once torn down on its exit).
    owner: Atomic<usize>,
    /// Whether `nb` was put on the module notifier chain (not for built-in drivers).
    registered: bool,
    payload: *mut c_void,
    run: unsafe fn(*mut c_void),
    #[pin]
    ran: Completion,
    /// Takes `nb` off the chain and frees the teardown, from a worker: the chain's lock may
    /// be held by whoever ran `run` (the module notifier itself, or a teardown it ran).
    #[pin]
    free: Work<Teardown>,
}

impl_has_work! {
    impl HasWork<Teardown> for Teardown { self.free }
}

impl WorkItem for Teardown {
    type Pointer = Pin<KBox<Teardown>>;

    fn run(this: Pin<KBox<Teardown>>) {
        if this.registered {
            // SAFETY: `nb` is on the chain (`registered`); unregistering waits for a notifier
            // call in progress, which no longer needs `this` (`run` has returned).
            unsafe { bindings::unregister_module_notifier(this.nb.get()) };
        }
    }
}

impl Teardown {
    fn new<T: KmsDriver>(parent: &device::Device<device::Bound>) -> impl PinInit<Self> {
        let owner = crate::module::this_module::<<T as drm::Driver>::OwnerModule>().as_ptr();
        let parent: ARef<device::Device> = (&**parent).into();
        let registered = !owner.is_null();
        pin_init!(Self {
            nb <- Opaque::init_zeroed(),
            parent,
            owner: Atomic::new(owner as usize),
            registered,
            payload: core::ptr::null_mut(),
            run: Self::nothing,
            ran <- Completion::new(),
            free <- new_work!("kms::Teardown::free"),
        })
    }

    /// The `run` of a teardown that is not installed yet.
    ///
    /// # Safety
    ///
    /// None: it does nothing.
    unsafe fn nothing(_payload: *mut c_void) {}

    /// Installs the teardown of a registration: `run(payload)` runs when `parent` is unbound,
    /// the devres action is released, or the owner module goes away.
    ///
    /// On failure `run(payload)` has run already.
    ///
    /// # Safety
    ///
    /// `run(payload)` may be called once, from any thread, until `parent` is unbound; the
    /// caller's `&Device<Bound>` of `parent` (from which `this` was made) rules out an unbind
    /// during this call.
    unsafe fn install(
        this: Pin<KBox<Self>>,
        payload: *mut c_void,
        run: unsafe fn(*mut c_void),
    ) -> Result<NonNull<Self>> {
        // SAFETY: The teardown is not shared yet; the fields set here are never moved out.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(this) });
        // SAFETY: `raw` is valid and not shared yet.
        unsafe {
            (*raw).payload = payload;
            (*raw).run = run;
            (*(*raw).nb.get()).notifier_call = Some(Self::module_going);
        }
        // SAFETY: `parent` is bound (the caller borrows it as `Device<Bound>`); `action`
        // matches the expected signature and frees `raw`. On failure it runs at once.
        to_result(unsafe {
            bindings::devm_add_action_or_reset(
                (*raw).parent.as_raw(),
                Some(Self::action),
                raw.cast(),
            )
        })?;
        // Built-in drivers (no owner module) never go away.
        // SAFETY: `raw` is valid: the action that frees it can only run on an unbind, which the
        // caller rules out during this call.
        if unsafe { (*raw).registered } {
            // SAFETY: `nb` is initialised and stays valid until `action` has taken it off the
            // chain again (type invariant). Registering a block that is not on the chain yet
            // cannot fail.
            unsafe { bindings::register_module_notifier((*raw).nb.get()) };
        }
        // SAFETY: `raw` came from `KBox::into_raw()`.
        Ok(unsafe { NonNull::new_unchecked(raw) })
    }

    /// The devres action: tears the registration down, leaves the notifier chain and frees
    /// `data`.
    ///
    /// # Safety
    ///
    /// `data` is a `Teardown` installed by [`Teardown::install`]; called once, by the devres
    /// core.
    #[inline(never)]
    unsafe extern "C" fn action(data: *mut c_void) {
        let this = data.cast::<Self>();
        // The module notifier has nothing to do for this teardown any more.
        // SAFETY: By the function's requirements, `this` is valid.
        unsafe { (*this).owner.store(0, Relaxed) };
        // SAFETY: By the function's requirements, `this` is valid and, the devres action being
        // ours to run, `run` has not run (type invariant).
        unsafe { ((*this).run)((*this).payload) };
        // SAFETY: Allocated and pinned by `install`; the devres action is gone, so the only
        // other user is a module notifier call, which waits for `ran` and then no longer
        // touches `this`; the worker frees it after taking `nb` off the chain.
        unsafe { Self::retire(this) };
    }

    /// Signals that `run` has returned, and hands `this` to a worker that takes `nb` off the
    /// notifier chain and frees it.
    ///
    /// # Safety
    ///
    /// `this` was installed by [`Teardown::install`], `run` has returned, and the caller owns
    /// it: the devres action is gone.
    unsafe fn retire(this: *mut Self) {
        // SAFETY: `this` is valid (by the function's requirements).
        unsafe { (*this).ran.complete_all() };
        // SAFETY: Allocated and pinned by `install`, owned by the caller.
        let this = unsafe { Pin::new_unchecked(KBox::from_raw(this)) };
        workqueue::system_long().enqueue(this);
    }

    /// The module notifier: tears the registration down when its module goes away.
    ///
    /// # Safety
    ///
    /// Called by the module notifier chain, with `nb` the `nb` of a [`Teardown`] on the chain.
    unsafe extern "C" fn module_going(
        nb: *mut bindings::notifier_block,
        state: c_ulong,
        module: *mut c_void,
    ) -> c_int {
        let done = bindings::NOTIFY_DONE as c_int;
        if state != bindings::module_state_MODULE_STATE_GOING as c_ulong {
            return done;
        }
        // SAFETY: `nb` is the `nb` of a live `Teardown`: it is on the chain only while its
        // `Teardown` is (type invariant).
        let this = unsafe { &*container_of!(Opaque::cast_from(nb), Self, nb) };
        if this.owner.load(Relaxed) != module as usize {
            return done;
        }
        // SAFETY: `parent` is valid: the teardown holds a reference to it. Only the action's
        // address and data are compared.
        let removed = unsafe {
            bindings::devm_remove_action_nowarn(
                this.parent.as_raw(),
                Some(Self::action),
                core::ptr::from_ref(this).cast_mut().cast(),
            )
        };
        if removed == 0 {
            this.owner.store(0, Relaxed);
            // SAFETY: Taking the action off the device made running `run` ours (type
            // invariant).
            unsafe { (this.run)(this.payload) };
            // SAFETY: As above, `this` is ours; `run` has returned. The notifier chain read
            // the next block before this call, and the worker waits for the chain to finish.
            unsafe { Self::retire(core::ptr::from_ref(this).cast_mut()) };
        } else {
            // The devres core is running the action: wait until the module's code has
            // returned. The action leaves the chain only after this call returns.
            this.ran.wait_for_completion();
        }
        done
    }
}

// SAFETY: The raw pointers are only passed to C functions that may run on any thread; `owner`
// is atomic and `ran` a completion.
unsafe impl Send for Teardown {}
// SAFETY: As above; shared access reads `parent`, `payload` and `run`, which are not changed
// once the teardown is installed.
unsafe impl Sync for Teardown {}

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
    use gem_atomic_helper::ShadowPlaneState;
    use plane::{
        CheckFlags,
        DriverPlane,
        Plane,
        PlaneCheck,
        PlaneState,
        PlaneType, //
    };

    struct TestDriver;

    /// How many [`TestData`] were dropped.
    static DROPPED: Atomic<u32> = Atomic::new(0);

    /// Registration data that counts its drops.
    struct TestData;

    impl Drop for TestData {
        fn drop(&mut self) {
            DROPPED.add(1, Relaxed);
        }
    }

    #[vtable]
    impl drm::Driver for TestDriver {
        type Data = ();
        type RegistrationData<'a> = TestData;
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

    /// Plane-state data alive.
    static LIVE_STATE_DATA: Atomic<i32> = Atomic::new(0);
    /// Whether [`CountedPlane`]'s check refuses.
    static REFUSE_CHECK: Atomic<bool> = Atomic::new(false);

    /// Plane-state data that counts itself and its duplications.
    struct Counted {
        /// How many duplications this data is from the plane's first state.
        generation: u32,
        /// The generation of the state before, seen by the check of this one.
        checked_after: Option<u32>,
    }

    impl Default for Counted {
        fn default() -> Self {
            LIVE_STATE_DATA.add(1, Relaxed);
            Self {
                generation: 0,
                checked_after: None,
            }
        }
    }

    impl state::StateData for Counted {
        fn duplicate(&self) -> Result<Self> {
            LIVE_STATE_DATA.add(1, Relaxed);
            Ok(Self {
                generation: self.generation + 1,
                checked_after: None,
            })
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            LIVE_STATE_DATA.add(-1, Relaxed);
        }
    }

    /// A shadow-buffered plane whose state carries [`Counted`].
    struct CountedPlane;

    #[vtable]
    impl DriverPlane for CountedPlane {
        type Driver = TestDriver;
        type State = ShadowPlaneState<Counted>;

        fn atomic_check(
            _plane: &Plane<Self>,
            _dev: &drm::Device<TestDriver, Ioctl>,
            check: &mut PlaneCheck<'_, Self::State>,
        ) -> Result {
            if REFUSE_CHECK.load(Relaxed) {
                return Err(ERANGE);
            }
            check.check_plane_state(CheckFlags::empty())?;
            let before = check.old_state().data().generation;
            check.data_mut().checked_after = Some(before);
            Ok(())
        }

        fn atomic_update(
            _plane: &Plane<Self>,
            _dev: &drm::Device<TestDriver, Ioctl>,
            _old: &Self::State,
            _new: &Self::State,
        ) {
        }
    }

    /// A CRTC whose state carries [`Counted`].
    struct CountedCrtc;

    #[vtable]
    impl DriverCrtc for CountedCrtc {
        type Driver = TestDriver;
        type Vblank = vblank_helper::VblankTimer;
        type StateData = Counted;

        fn atomic_check(_crtc: &Crtc<Self>, check: &mut crtc::CrtcCheck<'_, Counted>) -> Result {
            let before = check.old_state().data().generation;
            check.data_mut().checked_after = Some(before);
            check.state().check_primary_plane()
        }
    }

    struct TestCrtc(u32);

    #[vtable]
    impl DriverCrtc for TestCrtc {
        type Driver = TestDriver;
        type Vblank = vblank_helper::VblankTimer;
        type StateData = ();
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
        assert_eq!(primary.data().0, PlaneType::Primary);
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
        let ret =
            unsafe { drm::Registration::new(fdev.as_ref(), mc.drm, Ok::<_, Error>(TestData), 0) };
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
        // A primary plane that is no CRTC's primary: `drm_mode_config_validate()` warns unless
        // there are as many primary planes as CRTCs.
        let (_reg, mc) = setup(c"kunit_kms_orphan")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        let crtc = Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        plane(&mc, PlaneType::Primary)?;
        output(&mc, crtc.mask())?;
        assert!(refused(mc));
        Ok(())
    }

    #[test]
    fn crtc_needs_its_own_primary_plane() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_primary")?;
        let primary = plane(&mc, PlaneType::Primary)?;
        Crtc::new(&mc, primary, Ok(TestCrtc(0)))?;
        assert!(Crtc::new(&mc, primary, Ok(TestCrtc(0))).is_err_and(|e| e == EBUSY));
        Ok(())
    }

    /// A complete configuration: one plane, CRTC, encoder and connector.
    fn complete(mc: ModeConfig<TestDriver>) -> Result<ConfiguredDevice<TestDriver>> {
        let crtc = Crtc::new(&mc, plane(&mc, PlaneType::Primary)?, Ok(TestCrtc(0)))?;
        output(&mc, crtc.mask())?;
        mc.finish()
    }

    fn test_data(_parent: &faux::Device<crate::device::Bound>) -> Result<Pin<KBox<TestData>>> {
        KBox::pin_init(Ok::<_, Error>(TestData), GFP_KERNEL)
    }

    #[test]
    fn suspend_and_resume_pair_up() -> Result {
        let (reg, mc) = setup(c"kunit_kms_pm")?;
        let configured = complete(mc)?;
        let kms = Registration::new(reg.as_ref(), configured, test_data, 0)?;
        // `drm_mode_config_helper_resume()` warns without a saved state.
        assert!(kms.resume().is_err_and(|e| e == EINVAL));
        kms.suspend()?;
        // A second save would overwrite (and leak) the first.
        assert!(kms.suspend().is_err_and(|e| e == EBUSY));
        kms.resume()?;
        assert!(kms.resume().is_err_and(|e| e == EINVAL));
        Ok(())
    }

    /// A complete configuration with a [`CountedPlane`] on a [`CountedCrtc`]; returns the C
    /// objects too.
    #[allow(clippy::type_complexity)]
    fn counted(
        mc: ModeConfig<TestDriver>,
    ) -> Result<(
        ConfiguredDevice<TestDriver>,
        *mut bindings::drm_plane,
        *mut bindings::drm_crtc,
    )> {
        let primary = Plane::new(&mc, PlaneType::Primary, &FORMATS, Ok(CountedPlane))?;
        let crtc = Crtc::new(&mc, primary, Ok(CountedCrtc))?;
        let raw = (primary.as_raw(), crtc.as_raw());
        output(&mc, crtc.mask())?;
        Ok((mc.finish()?, raw.0, raw.1))
    }

    #[test]
    fn plane_state_data_lives_with_its_state() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_state_data")?;
        let before = LIVE_STATE_DATA.load(Relaxed);
        let (configured, ..) = counted(mc)?;
        // The first states of the plane and the CRTC, made when the configuration was finished.
        assert_eq!(LIVE_STATE_DATA.load(Relaxed), before + 2);
        // Releasing the device destroys the objects and their states, dropping the data.
        drop(configured);
        assert_eq!(LIVE_STATE_DATA.load(Relaxed), before);
        Ok(())
    }

    #[test]
    fn plane_state_data_is_duplicated_and_checked() -> Result {
        let (reg, mc) = setup(c"kunit_kms_state_dup")?;
        let (configured, plane, crtc) = counted(mc)?;
        let kms = Registration::new(reg.as_ref(), configured, test_data, 0)?;
        // Suspending saves a duplicate of the current state and commits another that turns the
        // plane off; the check of that one saw the data of the state it was duplicated from.
        kms.suspend()?;
        // SAFETY: The device is alive (`kms`) and suspended: nothing commits, so the states of
        // the plane and the CRTC stay as they are. States of a `CountedPlane` are
        // `ShadowPlaneState<Counted>`, those of a `CountedCrtc` `CrtcState<Counted>`.
        let datas = unsafe {
            [
                <ShadowPlaneState<Counted> as plane::private::Sealed>::from_raw((*plane).state)
                    .data(),
                crtc::CrtcState::<Counted>::from_raw((*crtc).state).data(),
            ]
        };
        for data in datas {
            assert!(data.generation >= 1);
            assert_eq!(data.checked_after, Some(data.generation - 1));
        }
        // Resuming commits the saved state; a check that refuses fails it with its errno.
        REFUSE_CHECK.store(true, Relaxed);
        let resumed = kms.resume();
        REFUSE_CHECK.store(false, Relaxed);
        assert!(resumed.is_err_and(|e| e == ERANGE));
        drop(kms);
        drop(reg);
        Ok(())
    }

    #[test]
    fn foreign_owned_registration_is_torn_down_at_unbind() -> Result {
        // What a leaked `Registration` leaves behind too (besides a device reference).
        let (reg, mc) = setup(c"kunit_kms_leak")?;
        let configured = complete(mc)?;
        let before = DROPPED.load(Relaxed);
        Registration::new_foreign_owned(reg.as_ref(), configured, test_data, 0)?;
        assert_eq!(DROPPED.load(Relaxed), before);
        // Unbinding the parent runs the teardown, which drops the registration data.
        drop(reg);
        assert_eq!(DROPPED.load(Relaxed), before + 1);
        Ok(())
    }

    #[test]
    fn dropped_registration_is_torn_down() -> Result {
        let (reg, mc) = setup(c"kunit_kms_drop")?;
        let configured = complete(mc)?;
        let before = DROPPED.load(Relaxed);
        drop(Registration::new(reg.as_ref(), configured, test_data, 0)?);
        assert_eq!(DROPPED.load(Relaxed), before + 1);
        drop(reg);
        assert_eq!(DROPPED.load(Relaxed), before + 1);
        Ok(())
    }

    #[test]
    fn registration_on_another_parent_refused() -> Result {
        let (reg, mc) = setup(c"kunit_kms_parent")?;
        let other = faux::Registration::new(c"kunit_kms_other", None)?;
        let configured = complete(mc)?;
        let ret = Registration::new(other.as_ref(), configured, test_data, 0);
        assert!(ret.is_err_and(|e| e == EINVAL));
        drop(reg);
        Ok(())
    }

    /// Formats, one per bit of the C plane's `u64` format mask, and one more.
    static TOO_MANY_FORMATS: [Format; 65] = [Format::XRGB8888; 65];

    #[test]
    fn plane_format_count_checked() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_formats")?;
        let new = |formats: &'static [Format]| {
            Plane::new(
                &mc,
                PlaneType::Primary,
                formats,
                Ok(TestPlane(PlaneType::Primary)),
            )
        };
        assert!(new(&[]).is_err_and(|e| e == EINVAL));
        assert!(new(&TOO_MANY_FORMATS).is_err_and(|e| e == EINVAL));
        new(&TOO_MANY_FORMATS[..64])?;
        Ok(())
    }

    #[test]
    fn thirty_third_plane_and_encoder_refused() -> Result {
        let (_reg, mc) = setup(c"kunit_kms_room")?;
        for _ in 0..32 {
            plane(&mc, PlaneType::Primary)?;
            Encoder::new(&mc, EncoderType::VIRTUAL, crtc::CrtcMask::default())?;
        }
        assert!(plane(&mc, PlaneType::Primary).is_err_and(|e| e == ENOSPC));
        let encoder = Encoder::new(&mc, EncoderType::VIRTUAL, crtc::CrtcMask::default());
        assert!(encoder.is_err_and(|e| e == ENOSPC));
        Ok(())
    }

    #[test]
    fn objects_of_another_device_refused() -> Result {
        let (_reg_a, a) = setup(c"kunit_kms_a")?;
        let (_reg_b, b) = setup(c"kunit_kms_b")?;
        let primary_b = plane(&b, PlaneType::Primary)?;
        assert!(Crtc::new(&a, primary_b, Ok(TestCrtc(0))).is_err_and(|e| e == EINVAL));
        let crtc_b = Crtc::new(&b, primary_b, Ok(TestCrtc(0)))?;

        let encoder_b = Encoder::new(&b, EncoderType::VIRTUAL, crtc_b.mask())?;
        let connector_a = Connector::new(&a, ConnectorType::VIRTUAL, Ok(TestConnector(0)))?;
        assert!(a
            .attach_encoder(connector_a, encoder_b)
            .is_err_and(|e| e == EINVAL));
        Ok(())
    }
}
