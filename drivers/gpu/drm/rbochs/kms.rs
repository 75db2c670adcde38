// SPDX-License-Identifier: GPL-2.0

//! The display pipeline: one primary plane, one CRTC, a virtual encoder and connector.

use core::{
    fmt,
    sync::atomic::{
        AtomicBool,
        AtomicU32,
        AtomicU64,
        Ordering, //
    },
};

use kernel::{
    drm::{
        self,
        kms::{
            connector::{
                Connector,
                DriverConnector,
                Edid,
                ModeProbe, //
            },
            crtc::{
                Crtc,
                CrtcCheck,
                CrtcState,
                DriverCrtc, //
            },
            damage::DamageIter,
            debugfs::DebugfsShow,
            format::Format,
            gem_atomic_helper::{
                CopyStats,
                ShadowPlaneState, //
            },
            plane::{
                CheckFlag,
                DriverPlane,
                Plane,
                PlaneCheck, //
            },
            state::StateData,
            vblank_helper::VblankTimer,
            ModeStatus, //
        },
        Ioctl,
    },
    io::memremap::CachePolicy,
    prelude::*, //
};

use crate::{
    driver::{
        RbochsDriver,
        RegData, //
    },
    frames::{
        Clips,
        Frames,
        Layout, //
    },
    hw::MAX_Y_OFFSET,
};

/// Formats the primary plane scans out, preferred first. The device shows 32 bits per pixel
/// as they are, in either byte order. The alpha formats are there for clients that draw
/// with alpha: the plane is the bottom one, over black, and a premultiplied pixel (the only
/// blend mode the plane offers) blended over black is its colour channels, which is what the
/// device shows.
pub(crate) const FORMATS: [Format; 4] = [
    Format::XRGB8888,
    Format::ARGB8888,
    Format::BGRX8888,
    Format::BGRA8888,
];

/// What the driver did, for debugfs and the tests.
#[derive(Default)]
pub(crate) struct Stats {
    /// Current mode width and height (0 while off).
    width: AtomicU32,
    height: AtomicU32,
    /// The last update drew into a hidden frame and flipped to it.
    double: AtomicBool,
    /// The frame on screen.
    frame_shown: AtomicU32,
    /// Updates that moved the scanout start to the other frame.
    flips: AtomicU64,
    /// Damage copied into video memory; `errors` are copies refused because they did not fit
    /// (should stay 0: atomic_check rejects them).
    copies: CopyStats,
}

impl Stats {
    /// Records the mode shown: 0x0 while off.
    fn set_mode(&self, width: u16, height: u16) {
        self.width.store(width.into(), Ordering::Relaxed);
        self.height.store(height.into(), Ordering::Relaxed);
    }
}

/// The driver's debugfs file, `rbochs_state`: `key: value` lines.
pub(crate) struct StateFile;

impl DebugfsShow for StateFile {
    type Driver = RbochsDriver;

    fn show(data: &RegData<'_>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = match data.policy {
            CachePolicy::WriteBack => "write-back",
            CachePolicy::WriteCombine => "write-combine",
        };
        writeln!(f, "vram_cache: {policy}")?;
        writeln!(f, "vram_size: {}", data.vram_size)?;
        let stats = &data.stats;
        let (w, h) = (
            stats.width.load(Ordering::Relaxed),
            stats.height.load(Ordering::Relaxed),
        );
        writeln!(f, "mode: {w}x{h}")?;
        let double = stats.double.load(Ordering::Relaxed);
        writeln!(f, "buffering: {}", if double { "double" } else { "single" })?;
        writeln!(
            f,
            "frame_shown: {}",
            stats.frame_shown.load(Ordering::Relaxed)
        )?;
        writeln!(f, "flips: {}", stats.flips.load(Ordering::Relaxed))?;
        stats.copies.show(f)?;
        writeln!(f, "copy_ns: {}", stats.copies.ns())?;
        writeln!(f, "errors: {}", stats.copies.failed())
    }
}

/// The primary plane.
pub(crate) struct Primary;

#[vtable]
impl DriverPlane for Primary {
    type Driver = RbochsDriver;
    type State = ShadowPlaneState<Frames>;

    const PANIC_SCANOUT: bool = true;

    /// Checks the update and plans it: which frame it draws into and what it copies there
    /// ([`Frames::plan`]), with all the memory it needs.
    fn atomic_check(
        _plane: &Plane<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        check: &mut PlaneCheck<'_, ShadowPlaneState<Frames>>,
    ) -> Result {
        // A client may turn the CRTC off and leave its framebuffer on the plane (IGT's
        // modeset transitions do, as i915, amdgpu and virtio-gpu allow): the plane is then
        // invisible, and shown again when the CRTC comes back.
        check.check_plane_state(CheckFlag::CanUpdateDisabled.into())?;
        let old = check.old_state();
        // A plane that was not on screen left black or an old image in video memory, not the
        // frame its damage clips are relative to: copy the whole framebuffer.
        if check.state().visible() && !old.visible() {
            check.damage_whole_plane();
        }
        let Some((vram_size, double_buffer)) =
            dev.with_registration_data(|data| (data.vram_size, data.double_buffer))
        else {
            // Unplugged since the check began: the update will not reach video memory.
            return Ok(());
        };
        check.check_fb_fits(dev.as_ref(), vram_size)?;
        let new = check.state();
        let Some(fb) = new.fb().filter(|_| new.visible()) else {
            return Ok(());
        };
        let frame_size = fb.pitch(0) as usize * fb.height() as usize;
        let layout = Layout {
            frame_size,
            double: double_buffer && 2 * frame_size <= vram_size && 2 * fb.height() <= MAX_Y_OFFSET,
        };
        // The frames hold what the previous update left, unless the plane was off or the
        // output is programmed anew (a mode set points the scanout at frame 0, and std-VGA
        // clears its memory).
        let known = old.visible() && check.crtc_state().is_some_and(|c| !c.needs_modeset());
        let mut damage = Clips::with_room(DamageIter::new(old, new).count())?;
        DamageIter::new(old, new).for_each(|clip| damage.push(clip));
        let frames = Frames::plan(known.then(|| old.data()), layout, damage, new.src())?;
        *check.data_mut() = frames;
        Ok(())
    }

    /// Carries out the plan of the check: copies the rectangles it chose into the frame it
    /// chose and scans that frame out.
    fn atomic_update(
        plane: &Plane<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        _old: &ShadowPlaneState<Frames>,
        new: &ShadowPlaneState<Frames>,
    ) {
        let frames = new.data();
        let (Some(fb), Some(layout)) = (new.fb().filter(|_| new.visible()), frames.layout()) else {
            return;
        };
        dev.with_registration_data(|data| {
            let stats = &data.stats;
            let pitch = fb.pitch(0);
            let start = frames.shown() * layout.frame_size;
            let done = new.copy_rects(frames.copies().iter().copied(), |clip| {
                new.copy_clip(clip, &data.hw.vram, start, pitch as usize)
            });
            if let Some((clip, e)) = done.first_error {
                kernel::do_once_lite! {
                    dev_err!(dev.as_ref(), "damage {clip:?} not copied: {e:?}\n")
                };
            }
            // Scan out the source rectangle of the frame just drawn.
            let src = new.src();
            let frame_y = frames.shown() as u32 * fb.height();
            data.hw
                .set_base(src.x1 as u32, frame_y + src.y1 as u32, pitch);
            data.hw.set_format(fb.format());
            if frames.flips() {
                stats.flips.fetch_add(1, Ordering::Relaxed);
            }
            // drm_panic draws into the frame on screen.
            if let Err(e) = plane.set_panic_scanout(dev, |data| Ok((&data.hw.vram, start, pitch))) {
                kernel::do_once_lite! { dev_err!(dev.as_ref(), "no panic screen: {e:?}\n") };
            }
            stats.double.store(layout.double, Ordering::Relaxed);
            stats
                .frame_shown
                .store(frames.shown() as u32, Ordering::Relaxed);
            stats.copies.record(&done);
        });
    }
}

/// The CRTC.
pub(crate) struct Pipe;

/// What a commit does to the CRTC beyond the helpers, decided in its atomic check.
#[derive(Default)]
pub(crate) struct PipeState {
    /// The CRTC is lit without a plane: show black, not what video memory last held.
    show_black: bool,
}

/// Every new state is decided anew by the atomic check.
impl StateData for PipeState {
    fn duplicate(&self) -> Result<Self> {
        Ok(Self::default())
    }
}

#[vtable]
impl DriverCrtc for Pipe {
    type Driver = RbochsDriver;
    type Vblank = VblankTimer;
    type StateData = PipeState;

    fn atomic_check(_crtc: &Crtc<Self>, check: &mut CrtcCheck<'_, PipeState>) -> Result {
        // The CRTC may be lit with its plane off: it then shows black. The atomic helpers
        // refuse that by default; IGT's plane transitions and `kms_concurrent` do it, and i915,
        // amdgpu and virtio-gpu allow it. Black is drawn when the plane goes away or the
        // output is programmed anew without one (std-VGA clears its memory when a mode is
        // set, bochs-display does not); video memory then stays black until a plane comes
        // back, whose check plans a whole picture.
        let (old, new) = (check.old_state(), check.state());
        let show_black =
            new.active() && !new.has_planes() && (new.needs_modeset() || old.has_planes());
        check.data_mut().show_black = show_black;
        Ok(())
    }

    fn mode_set_nofb(
        _crtc: &Crtc<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        state: &CrtcState<PipeState>,
    ) {
        let mode = state.mode();
        dev.with_registration_data(|data| {
            data.hw
                .set_mode(mode.hdisplay(), mode.vdisplay(), data.vram_size);
            data.stats.set_mode(mode.hdisplay(), mode.vdisplay());
        });
    }

    fn atomic_enable(_crtc: &Crtc<Self>, dev: &drm::Device<RbochsDriver, Ioctl>) {
        dev.with_registration_data(|data| data.hw.blank(false));
    }

    fn atomic_disable(_crtc: &Crtc<Self>, dev: &drm::Device<RbochsDriver, Ioctl>) {
        dev.with_registration_data(|data| {
            data.hw.blank(true);
            data.stats.set_mode(0, 0);
        });
    }

    /// Shows black where the check decided so.
    fn atomic_flush(
        _crtc: &Crtc<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        _old: &CrtcState<PipeState>,
        new: &CrtcState<PipeState>,
    ) {
        if !new.data().show_black {
            return;
        }
        let (w, h) = (new.mode().hdisplay(), new.mode().vdisplay());
        dev.with_registration_data(|data| {
            if let Err(e) = data.hw.show_black(w, h) {
                kernel::do_once_lite! {
                    dev_err!(dev.as_ref(), "cannot clear a {w}x{h} frame: {e:?}\n")
                };
            }
        });
    }
}

/// The connector: modes from QEMU's EDID, or the standard list preferring `defx` x `defy`.
pub(crate) struct Output;

#[vtable]
impl DriverConnector for Output {
    type Driver = RbochsDriver;

    fn get_modes(
        _connector: &Connector<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        probe: &mut ModeProbe<'_>,
    ) -> u32 {
        let edid = dev
            .with_registration_data(|data| {
                let mut header = [0u8; 8];
                // QEMU leaves the area zero when EDID is off (`edid=off`).
                if data.hw.read_edid(0, &mut header).is_err() || !Edid::header_is_valid(&header) {
                    return None;
                }
                probe.read_edid(|block, buf| data.hw.read_edid(block, buf))
            })
            .flatten();

        if let Some(edid) = edid {
            if probe.update_edid(Some(&edid)).is_ok() {
                let n = probe.add_edid_modes();
                return n + add_aligned_preferred(probe);
            }
        }
        let _ = probe.update_edid(None);
        let n = probe.add_modes_noedid(8192, 8192);
        let defx = crate::module_parameters::defx.value();
        probe.set_preferred_mode(defx, crate::module_parameters::defy.value());
        n
    }
}

/// When the EDID prefers a width the device cannot show (QEMU's `xres` not a multiple of 8),
/// offers that mode narrowed to the width the device would show, as the preferred one; the
/// original is then filtered out by [`mode_valid`]. Returns the number of modes added.
fn add_aligned_preferred(probe: &mut ModeProbe<'_>) -> u32 {
    let Some((w, h)) = probe.preferred_size().filter(|&(w, _)| w % 8 != 0) else {
        return 0;
    };
    let (Ok(w8), Ok(h)) = (u16::try_from(w & !7), u16::try_from(h)) else {
        return 0;
    };
    if w8 == 0 || probe.add_cvt_mode(w8, h, 60).is_err() {
        return 0;
    }
    probe.set_preferred_mode(w8.into(), h.into());
    1
}

/// Modes that fit into video memory (one 32 bpp frame).
pub(crate) fn mode_valid(vram_size: usize, width: u16, height: u16) -> ModeStatus {
    // The device rounds the DISPI width down to a multiple of 8 (QEMU's `vbe_fixup_regs()`):
    // a 1001 pixel wide mode would be shown 1000 wide, so it is not offered.
    if width == 0 || width % 8 != 0 {
        return ModeStatus::BAD_WIDTH;
    }
    let pitch = usize::from(width) * 4;
    if usize::from(height) > vram_size / pitch {
        return ModeStatus::MEM;
    }
    ModeStatus::OK
}
