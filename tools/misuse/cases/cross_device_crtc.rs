// SPDX-License-Identifier: GPL-2.0
// expect: insmod-errno EINVAL
//! A CRTC made on one device's mode configuration with the primary plane of another device:
//! the kernel crate must refuse it (`EINVAL`), so the module's init fails with that.

use kernel::{
    device::DeviceContext,
    drm::{
        self, gem,
        kms::{
            self,
            crtc::{Crtc, DriverCrtc},
            format::Format,
            plane::{DriverPlane, Plane, PlaneState, PlaneType},
            vblank_helper::VblankTimer,
            KmsDriver, ModeConfigInfo,
        },
        Ioctl,
    },
    faux,
    prelude::*,
};

module! {
    type: Misuse,
    name: "cross_device_crtc",
    authors: ["rbochs developers"],
    description: "misuse case: a CRTC with another device's primary plane",
    license: "GPL",
}

struct Misuse;

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let fa = faux::Registration::new(c"misuse_cross_a", None)?;
        let fb = faux::Registration::new(c"misuse_cross_b", None)?;
        let a = kms::ModeConfig::init(drm::UnregisteredDevice::<Drv>::new(fa.as_ref(), Ok(()))?)?;
        let b = kms::ModeConfig::init(drm::UnregisteredDevice::<Drv>::new(fb.as_ref(), Ok(()))?)?;
        let primary_b = Plane::new(&b, PlaneType::Primary, &[Format::XRGB8888], Ok(Primary))?;
        // Must fail with EINVAL: the plane belongs to `b`.
        Crtc::new(&a, primary_b, Ok(Pipe))?;
        pr_err!("a CRTC was made with another device's plane\n");
        Err(ENOTRECOVERABLE)
    }
}

struct Drv;

#[vtable]
impl drm::Driver for Drv {
    type Data = ();
    type RegistrationData<'a> = ();
    type File = kms::PlainFile<Self>;
    type Object = gem::shmem::Object<kms::PlainObject<Self>>;
    type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

    const INFO: drm::DriverInfo = drm::DriverInfo {
        major: 1,
        minor: 0,
        patchlevel: 0,
        name: c"cross_device_crtc",
        desc: c"misuse case",
    };
    const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
    const MODESET: Option<drm::driver::ModesetOps> = Some(kms::modeset_ops::<Self>());
}

#[vtable]
impl KmsDriver for Drv {
    const MODE_CONFIG: ModeConfigInfo = ModeConfigInfo {
        min_width: 1,
        max_width: 1024,
        min_height: 1,
        max_height: 768,
        preferred_depth: 24,
        prefer_host_byte_order: false,
    };
}

struct Primary;

#[vtable]
impl DriverPlane for Primary {
    type Driver = Drv;
    type State = PlaneState;

    fn atomic_update(
        _plane: &Plane<Self>,
        _dev: &drm::Device<Drv, Ioctl>,
        _old: &PlaneState,
        _new: &PlaneState,
    ) {
    }
}

struct Pipe;

#[vtable]
impl DriverCrtc for Pipe {
    type Driver = Drv;
    type Vblank = VblankTimer;
}
