// SPDX-License-Identifier: GPL-2.0
// What most misuse cases need besides their misuse: a one-output KMS display on a faux device.
//
// A case includes this file (`include!("display.rs");`, copied beside it by `vmtest
// misuse-build`) and then invokes `display!`, which defines:
//
// - `Drv`, a [`drm::Driver`] and [`kms::KmsDriver`] whose registration data is `$data<'a>`
//   and whose `MODESET` is `$modeset` (normally `Some(kms::modeset_ops::<Self>())`);
// - its primary plane, CRTC (paced by the software vblank timer) and an always-connected
//   virtual connector whose `get_modes` is `$get_modes(probe)`;
// - `configured(fdev)`, the finished mode configuration of a new device on `fdev`;
// - `NoData<'a>`, registration data for cases that need none, and `no_data`, its closure for
//   `kms::Registration::new`, and `modes_1024x768`, a `get_modes`.
//
// `case_module!("NAME")` declares the case's module, of type `Misuse`.

/// Registration data for cases that need none.
pub struct NoData<'a>(core::marker::PhantomData<&'a ()>);

/// Builds [`NoData`] for `kms::Registration::new`.
#[allow(dead_code)]
fn no_data(
    _parent: &kernel::faux::Device<kernel::device::Bound>,
) -> Result<Pin<KBox<NoData<'_>>>> {
    KBox::pin_init(Ok::<_, Error>(NoData(core::marker::PhantomData)), GFP_KERNEL)
}

/// The standard modes up to 1024x768.
#[allow(dead_code)]
fn modes_1024x768(probe: &mut kernel::drm::kms::connector::ModeProbe<'_>) -> u32 {
    probe.add_modes_noedid(1024, 768)
}

macro_rules! display {
    (
        name: $name:literal,
        data: $data:ident,
        modeset: $modeset:expr,
        get_modes: $get_modes:path $(,)?
    ) => {
        use kernel::{
            device::{Bound, DeviceContext},
            drm::{
                self, gem,
                kms::{
                    self,
                    connector::{Connector, ConnectorType, DriverConnector, ModeProbe},
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
        };

        /// The objects of a one-output display on a new device of `fdev`, finished.
        #[allow(dead_code)]
        fn configured(fdev: &faux::Device<Bound>) -> Result<kms::ConfiguredDevice<Drv>> {
            let drm = drm::UnregisteredDevice::<Drv>::new(fdev, Ok(()))?;
            let mc = kms::ModeConfig::init(drm)?;
            let plane = Plane::new(&mc, PlaneType::Primary, &[Format::XRGB8888], Ok(Primary))?;
            let crtc = Crtc::new(&mc, plane, Ok(Pipe))?;
            let encoder = Encoder::new(&mc, EncoderType::VIRTUAL, crtc.mask())?;
            let connector = Connector::new(&mc, ConnectorType::VIRTUAL, Ok(Output))?;
            mc.attach_encoder(connector, encoder)?;
            mc.finish()
        }

        struct Drv;

        #[vtable]
        impl drm::Driver for Drv {
            type Data = ();
            type RegistrationData<'a> = $data<'a>;
            type File = kms::PlainFile<Self>;
            type Object = gem::shmem::Object<kms::PlainObject<Self>>;
            type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

            const INFO: drm::DriverInfo = drm::DriverInfo {
                major: 1,
                minor: 0,
                patchlevel: 0,
                name: $name,
                desc: $name,
            };
            const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
            const MODESET: Option<drm::driver::ModesetOps> = $modeset;
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
            type StateData = ();
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
                $get_modes(probe)
            }
        }
    };
}

macro_rules! case_module {
    ($name:tt) => {
        module! {
            type: Misuse,
            name: $name,
            authors: ["rbochs developers"],
            description: "misuse case",
            license: "GPL",
        }
    };
}
