// SPDX-License-Identifier: GPL-2.0
// expect: clean
// trigger: rbguest info
// trigger: for s in /sys/class/drm/card*-Virtual-*/status; do echo detect > $s; done
//! The reference: a complete KMS device on a faux device, registered as the KMS sample does
//! (`new_foreign_owned`), probed from userspace (GETCONNECTOR, a forced detect) while fbdev
//! lights its CRTC, and torn down by `rmmod`. Everything must stay clean.

use kernel::{
    device::DeviceContext,
    drm::{
        self, gem,
        kms::{
            self,
            connector::{Connector, ConnectorStatus, ConnectorType, DriverConnector, ModeProbe},
            crtc::{Crtc, DriverCrtc},
            encoder::{Encoder, EncoderType},
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
    name: "faux_kms_clean",
    authors: ["rbochs developers"],
    description: "misuse case: a correct faux KMS device",
    license: "GPL",
}

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_clean", None)?;
        let drm = drm::UnregisteredDevice::<Drv>::new(faux.as_ref(), Ok(()))?;
        let mc = kms::ModeConfig::init(drm)?;
        let plane = Plane::new(&mc, PlaneType::Primary, &[Format::XRGB8888], Ok(Primary))?;
        let crtc = Crtc::new(&mc, plane, Ok(Pipe))?;
        let encoder = Encoder::new(&mc, EncoderType::VIRTUAL, crtc.mask())?;
        let connector = Connector::new(&mc, ConnectorType::VIRTUAL, Ok(Output))?;
        mc.attach_encoder(connector, encoder)?;
        let drm = mc.finish()?;
        let fdev: &faux::Device<kernel::device::Bound> = faux.as_ref();
        kms::Registration::new_foreign_owned(
            fdev,
            drm,
            |_| KBox::pin_init(Ok::<(), Error>(()), GFP_KERNEL),
            0,
        )?;
        Ok(Self { _faux: faux })
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
        name: c"faux_kms_clean",
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

struct Output;

#[vtable]
impl DriverConnector for Output {
    type Driver = Drv;

    fn get_modes(
        _connector: &Connector<Self>,
        _dev: &drm::Device<Drv, Ioctl>,
        probe: &mut ModeProbe<'_>,
    ) -> u32 {
        probe.add_modes_noedid(1024, 768)
    }

    fn detect(
        _connector: &Connector<Self>,
        _dev: &drm::Device<Drv, Ioctl>,
        _force: bool,
    ) -> ConnectorStatus {
        ConnectorStatus::Connected
    }
}
