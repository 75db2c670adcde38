// SPDX-License-Identifier: GPL-2.0

//! PCI binding and DRM device setup.

use kernel::{
    aperture,
    device::{
        Bound,
        Core,
        DeviceContext, //
    },
    drm::{
        self, gem,
        kms::{
            self,
            connector::{
                Connector,
                ConnectorType, //
            },
            crtc::Crtc,
            debugfs::DebugfsFile,
            encoder::{
                Encoder,
                EncoderType, //
            },
            mode::DisplayMode,
            plane::{
                Plane,
                PlaneType, //
            },
            KmsDriver,
            ModeConfigInfo,
            ModeStatus, //
        },
        Ioctl,
    },
    io::memremap::CachePolicy,
    pci,
    prelude::*, //
};

use crate::{
    hw::{
        self,
        Hw, //
    },
    kms::{
        Output,
        Pipe,
        Primary,
        Stats,
        FORMATS, //
    },
};

/// The DRM driver.
pub(crate) struct RbochsDriver;

/// The PCI driver.
pub(crate) struct RbochsPciDriver;

/// Bound resources and what the driver found at probe, reachable from DRM hooks through the
/// registration guard.
pub(crate) struct RegData<'a> {
    pub(crate) hw: Hw<'a>,
    /// Cache policy of the video memory mapping.
    pub(crate) policy: CachePolicy,
    /// Usable video memory in bytes: the smaller of BAR 0 and what DISPI reports.
    pub(crate) vram_size: usize,
    /// The `double_buffer` parameter at probe: flip between two frames where they fit.
    pub(crate) double_buffer: bool,
    /// What the driver did, for debugfs.
    pub(crate) stats: Stats,
}

/// What the PCI binding holds: the registered DRM device.
pub(crate) struct RbochsPciData<'bound> {
    reg: kms::Registration<'bound, RbochsDriver>,
}

const INFO: drm::DriverInfo = drm::DriverInfo {
    major: 1,
    minor: 0,
    patchlevel: 0,
    name: c"rbochs",
    desc: c"QEMU std-VGA and bochs-display, coherent on arm64",
};

#[vtable]
impl drm::Driver for RbochsDriver {
    type Data = ();
    type RegistrationData<'a> = RegData<'a>;
    type File = kms::PlainFile<Self>;
    type Object = gem::shmem::Object<kms::PlainObject<Self>>;
    type ParentDevice<Ctx: DeviceContext> = pci::Device<Ctx>;

    const INFO: drm::DriverInfo = INFO;
    const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
    const MODESET: Option<drm::driver::ModesetOps> = Some(kms::modeset_ops::<Self>());
}

#[vtable]
impl KmsDriver for RbochsDriver {
    const MODE_CONFIG: ModeConfigInfo = ModeConfigInfo {
        min_width: 0,
        max_width: 8192,
        min_height: 0,
        max_height: 8192,
        preferred_depth: 24,
        prefer_host_byte_order: true,
    };
    const DEBUGFS_FILES: &'static [DebugfsFile<Self>] =
        &[DebugfsFile::new::<crate::kms::StateFile>(c"rbochs_state")];

    fn mode_valid(dev: &drm::Device<Self, Ioctl>, mode: &DisplayMode) -> ModeStatus {
        dev.with_registration_data(|data| {
            crate::kms::mode_valid(data.vram_size, mode.hdisplay(), mode.vdisplay())
        })
        .unwrap_or(ModeStatus::ERROR)
    }
}

kernel::pci_device_table!(
    PCI_TABLE,
    <RbochsPciDriver as pci::Driver>::IdInfo,
    [
        // QEMU std-VGA (class VGA) and bochs-display (class display), any subsystem.
        (
            pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x1111),
            ()
        ),
        // Simics' variant of the bochs display.
        (
            pci::DeviceId::from_id(pci::Vendor::from_raw(0x4321), 0x1111),
            ()
        )
    ]
);

#[vtable]
impl pci::Driver for RbochsPciDriver {
    type IdInfo = ();
    type Data<'bound> = RbochsPciData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        aperture::remove_conflicting_pci_devices(pdev, INFO.name)?;
        pdev.enable_device_mem()?;

        let mc =
            kms::ModeConfig::init(drm::UnregisteredDevice::<RbochsDriver>::new(pdev, Ok(()))?)?;
        let plane = Plane::new(&mc, PlaneType::Primary, &FORMATS, Ok(Primary))?;
        let crtc = Crtc::new(&mc, plane, Ok(Pipe))?;
        let encoder = Encoder::new(&mc, EncoderType::VIRTUAL, crtc.mask())?;
        let connector = Connector::new(&mc, ConnectorType::VIRTUAL, Ok(Output))?;
        mc.attach_encoder(connector, encoder)?;
        let drm = mc.finish()?;

        let policy = hw::vram_policy(crate::module_parameters::vram_cache.value());
        let double_buffer = crate::module_parameters::double_buffer.value();
        let bound: &pci::Device<Bound> = pdev;
        let reg = kms::Registration::new(
            bound,
            drm,
            |pdev| {
                let (hw, vram_size) = Hw::new(pdev, policy)?;
                let reg_data = RegData {
                    hw,
                    policy,
                    vram_size,
                    double_buffer,
                    stats: Stats::default(),
                };
                Ok(KBox::pin(reg_data, GFP_KERNEL)?)
            },
            0,
        )?;
        Ok(RbochsPciData { reg })
    }

    fn shutdown<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        this.reg.shutdown();
    }

    fn suspend<'bound>(
        _pdev: &'bound pci::Device<Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
    ) -> Result {
        this.reg.suspend()
    }

    fn resume<'bound>(
        _pdev: &'bound pci::Device<Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
    ) -> Result {
        this.reg.resume()
    }
}
