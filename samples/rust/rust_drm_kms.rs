// SPDX-License-Identifier: GPL-2.0

//! Rust DRM KMS sample: a virtual display on a faux device.
//!
//! One primary plane, CRTC, encoder and connector, with no hardware behind them: every plane
//! update copies its damage into a kernel buffer that stands for the scanout memory, and the
//! software vblank timer paces page-flip events. It uses only the safe KMS API of the `kernel`
//! crate.
//!
//! `rust_drm_kms_state` in the device's DRM debugfs directory (`/sys/kernel/debug/dri/N/`)
//! reports what the display shows: the mode, counters
//! of commits, damage rectangles and bytes copied, and a checksum (64-bit FNV-1a) of the
//! visible image, so a test can check that what it drew arrived and what it did not damage did
//! not.

use kernel::{
    device::{
        Bound,
        DeviceContext, //
    },
    drm::{
        self, gem,
        kms::{
            self,
            connector::{
                Connector,
                ConnectorStatus,
                ConnectorType,
                DriverConnector,
                ModeProbe, //
            },
            crtc::{
                Crtc,
                CrtcState,
                DriverCrtc, //
            },
            debugfs::{
                DebugfsFile,
                DebugfsShow, //
            },
            encoder::{
                Encoder,
                EncoderType, //
            },
            format::Format,
            gem_atomic_helper::{
                CopyStats,
                ShadowPlaneState, //
            },
            mode::DisplayMode,
            plane::{
                CheckFlags,
                DriverPlane,
                Plane,
                PlaneCheck,
                PlaneType, //
            },
            vblank_helper::VblankTimer,
            KmsDriver,
            ModeConfigInfo,
            ModeStatus, //
        },
        Ioctl,
    },
    faux,
    new_mutex,
    prelude::*,
    sync::Mutex, //
};

/// Largest mode of the virtual display.
const MAX_WIDTH: u32 = 1920;
const MAX_HEIGHT: u32 = 1080;
/// Bytes per pixel of the only format, XRGB8888.
const CPP: u32 = 4;

module! {
    type: RustDrmKms,
    name: "rust_drm_kms",
    authors: ["rbochs developers"],
    description: "Rust DRM KMS sample: a virtual display",
    license: "GPL",
}

struct RustDrmKms {
    _faux: faux::Registration,
}

impl kernel::Module for RustDrmKms {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"rust_drm_kms", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();

        // The objects, then the finished mode configuration (vblank, initial state), then
        // the registration: each step takes what the one before returns.
        let drm = drm::UnregisteredDevice::<SampleDriver>::new(fdev, Ok(()))?;
        let mc = kms::ModeConfig::init(drm)?;
        let plane = Plane::new(&mc, PlaneType::Primary, &[Format::XRGB8888], Ok(Primary))?;
        let crtc = Crtc::new(&mc, plane, Ok(Pipe))?;
        let encoder = Encoder::new(&mc, EncoderType::VIRTUAL, crtc.mask())?;
        let connector = Connector::new(&mc, ConnectorType::VIRTUAL, Ok(Output))?;
        mc.attach_encoder(connector, encoder)?;
        let drm = mc.finish()?;

        // The display lives as long as the faux device is bound, i.e. until the module goes.
        kms::Registration::new_foreign_owned(
            fdev,
            drm,
            |_| {
                let frame = Frame::new()?;
                let display = try_pin_init!(Display {
                    screen <- pin_init!(Screen {
                        frame <- new_mutex!(frame),
                        copies: CopyStats::default(),
                    }),
                }? Error);
                KBox::pin_init(display, GFP_KERNEL)
            },
            0,
        )?;
        Ok(Self { _faux: faux })
    }
}

struct SampleDriver;

#[vtable]
impl drm::Driver for SampleDriver {
    type Data = ();
    type RegistrationData<'a> = Display;
    type File = kms::PlainFile<Self>;
    type Object = gem::shmem::Object<kms::PlainObject<Self>>;
    type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

    const INFO: drm::DriverInfo = drm::DriverInfo {
        major: 1,
        minor: 0,
        patchlevel: 0,
        name: c"rust_drm_kms",
        desc: c"Rust DRM KMS sample",
    };
    const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
    const MODESET: Option<drm::driver::ModesetOps> = Some(kms::modeset_ops::<Self>());
}

#[vtable]
impl KmsDriver for SampleDriver {
    const MODE_CONFIG: ModeConfigInfo = ModeConfigInfo {
        min_width: 1,
        max_width: MAX_WIDTH,
        min_height: 1,
        max_height: MAX_HEIGHT,
        preferred_depth: 24,
        prefer_host_byte_order: false,
    };
    const DEBUGFS_FILES: &'static [DebugfsFile<Self>] =
        &[DebugfsFile::new::<StateFile>(c"rust_drm_kms_state")];

    fn mode_valid(_dev: &drm::Device<Self, Ioctl>, mode: &DisplayMode) -> ModeStatus {
        if u32::from(mode.hdisplay()) > MAX_WIDTH {
            ModeStatus::H_ILLEGAL
        } else if u32::from(mode.vdisplay()) > MAX_HEIGHT {
            ModeStatus::V_ILLEGAL
        } else {
            ModeStatus::OK
        }
    }
}

/// What the registered display owns: the screen, shown in debugfs ([`StateFile`]).
#[pin_data]
struct Display {
    #[pin]
    screen: Screen,
}

/// The debugfs file `rust_drm_kms_state`.
struct StateFile;

impl DebugfsShow for StateFile {
    type Driver = SampleDriver;

    fn show(data: &Display, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        data.screen.show(f)
    }
}

/// The virtual scanout memory and what happened to it.
#[pin_data]
struct Screen {
    #[pin]
    frame: Mutex<Frame>,
    copies: CopyStats,
}

/// The image the display shows: `height` lines of `pitch` bytes.
struct Frame {
    pixels: KVVec<u8>,
    width: u32,
    height: u32,
    pitch: usize,
}

impl Frame {
    fn new() -> Result<Self> {
        let size = (MAX_WIDTH * MAX_HEIGHT * CPP) as usize;
        Ok(Self {
            pixels: KVVec::from_elem(0u8, size, GFP_KERNEL)?,
            width: 0,
            height: 0,
            pitch: 0,
        })
    }

    /// 64-bit FNV-1a over the visible pixels, line by line.
    fn checksum(&self) -> u64 {
        let line = (self.width * CPP) as usize;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for y in 0..self.height as usize {
            let start = y * self.pitch;
            for &b in self.pixels.get(start..start + line).unwrap_or(&[]) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
}

impl Screen {
    fn show(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let frame = self.frame.lock();
        writeln!(f, "mode: {}x{}", frame.width, frame.height)?;
        self.copies.show(f)?;
        writeln!(f, "checksum: {:016x}", frame.checksum())
    }
}

struct Primary;

#[vtable]
impl DriverPlane for Primary {
    type Driver = SampleDriver;
    // The framebuffer is mapped for each commit, and its damage copied to the screen.
    type State = ShadowPlaneState;

    fn atomic_check(
        _plane: &Plane<Self>,
        dev: &drm::Device<SampleDriver, Ioctl>,
        check: &mut PlaneCheck<'_, ShadowPlaneState>,
    ) -> Result {
        // Unscaled, covering the whole CRTC, which must be on.
        check.check_plane_state(CheckFlags::empty())?;
        // The whole framebuffer must fit into the virtual scanout memory.
        check.check_fb_fits(dev.as_ref(), (MAX_WIDTH * MAX_HEIGHT * CPP) as usize)
    }

    fn atomic_update(
        _plane: &Plane<Self>,
        dev: &drm::Device<SampleDriver, Ioctl>,
        old: &ShadowPlaneState,
        new: &ShadowPlaneState,
    ) {
        let Some(fb) = new.fb() else {
            return;
        };
        dev.with_registration_data(|display| {
            let screen = &display.screen;
            let mut frame = screen.frame.lock();
            let pitch = fb.pitch(0) as usize;
            frame.pitch = pitch;
            let done = new.copy_damage(old, |clip| {
                new.copy_clip_to_slice(clip, &mut frame.pixels, pitch)
            });
            if let Some((clip, e)) = done.first_error {
                dev_err!(dev.as_ref(), "damage {clip:?} not copied: {e:?}\n");
            }
            screen.copies.record(&done);
        });
    }
}

struct Pipe;

#[vtable]
impl DriverCrtc for Pipe {
    type Driver = SampleDriver;
    // No hardware, hence no vblank interrupt: a timer paces page flips.
    type Vblank = VblankTimer;
    type StateData = ();

    fn mode_set_nofb(
        _crtc: &Crtc<Self>,
        dev: &drm::Device<SampleDriver, Ioctl>,
        state: &CrtcState,
    ) {
        let mode = state.mode();
        dev.with_registration_data(|display| {
            let screen = &display.screen;
            let mut frame = screen.frame.lock();
            frame.width = mode.hdisplay().into();
            frame.height = mode.vdisplay().into();
        });
    }

    fn atomic_disable(_crtc: &Crtc<Self>, dev: &drm::Device<SampleDriver, Ioctl>) {
        dev.with_registration_data(|display| {
            let screen = &display.screen;
            let mut frame = screen.frame.lock();
            frame.width = 0;
            frame.height = 0;
        });
    }
}

struct Output;

#[vtable]
impl DriverConnector for Output {
    type Driver = SampleDriver;

    fn get_modes(
        _connector: &Connector<Self>,
        _dev: &drm::Device<SampleDriver, Ioctl>,
        probe: &mut ModeProbe<'_>,
    ) -> u32 {
        let _ = probe.update_edid(None);
        let n = probe.add_modes_noedid(MAX_WIDTH, MAX_HEIGHT);
        probe.set_preferred_mode(1024, 768);
        n
    }

    fn detect(
        _connector: &Connector<Self>,
        _dev: &drm::Device<SampleDriver, Ioctl>,
        _force: bool,
    ) -> ConnectorStatus {
        // The virtual display is always plugged in.
        ConnectorStatus::Connected
    }
}
