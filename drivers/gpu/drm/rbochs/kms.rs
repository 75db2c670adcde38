// SPDX-License-Identifier: GPL-2.0

//! The display pipeline: one primary plane, one CRTC, a virtual encoder and connector.

use core::sync::atomic::{
    AtomicU32,
    AtomicU64,
    Ordering, //
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
                CrtcState,
                DriverCrtc, //
            },
            format,
            plane::{
                DriverPlane,
                Plane,
                PlaneCheck,
                PlaneState,
                ScanoutBuffer, //
            },
            ModeStatus, //
        },
        Ioctl,
    },
    io::memremap::CachePolicy,
    pr_err_once,
    pr_warn_once,
    prelude::*,
    time::{
        Instant,
        Monotonic, //
    }, //
};

use crate::driver::{
    RbochsDriver,
    RegData, //
};

/// Formats the primary plane scans out, preferred first. The device shows 32 bits per pixel
/// as they are, in either byte order. The alpha formats are there for clients that draw
/// with alpha: the plane is the bottom one, over black, and a premultiplied pixel (the
/// blending KMS assumes when a plane has no blend mode property) blended over black is its
/// colour channels, which is what the device shows.
pub(crate) const FORMATS: [u32; 4] = [
    format::XRGB8888,
    format::ARGB8888,
    format::BGRX8888,
    format::BGRA8888,
];

/// What the driver did, for debugfs and the tests.
#[derive(Default)]
pub(crate) struct Stats {
    /// Cache policy of the video memory mapping.
    pub(crate) policy: Option<CachePolicy>,
    /// Usable video memory in bytes.
    pub(crate) vram_size: usize,
    /// Current mode width and height (0 while off).
    pub(crate) width: AtomicU32,
    pub(crate) height: AtomicU32,
    /// Plane updates that reached the hardware.
    pub(crate) commits: AtomicU64,
    /// Damage rectangles copied.
    pub(crate) rects: AtomicU64,
    /// Bytes copied into video memory.
    pub(crate) bytes: AtomicU64,
    /// Bytes copied by the last plane update.
    pub(crate) last_bytes: AtomicU64,
    /// Time spent copying damage into video memory, in nanoseconds.
    pub(crate) copy_ns: AtomicU64,
    /// Copies refused because they did not fit (should stay 0: atomic_check rejects them).
    pub(crate) errors: AtomicU64,
}

impl Stats {
    pub(crate) fn show(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let policy = match self.policy {
            Some(CachePolicy::WriteBack) => "write-back",
            Some(CachePolicy::WriteCombine) => "write-combine",
            None => "none",
        };
        writeln!(f, "vram_cache: {policy}")?;
        writeln!(f, "vram_size: {}", self.vram_size)?;
        let (w, h) = (
            self.width.load(Ordering::Relaxed),
            self.height.load(Ordering::Relaxed),
        );
        writeln!(f, "mode: {w}x{h}")?;
        // Whether a second frame of this mode would fit beside the first (page flipping in
        // video memory); this driver always scans out of the first one.
        let frame = u64::from(w) * u64::from(h) * 4;
        let second = match frame {
            0 => "-",
            _ if 2 * frame <= self.vram_size as u64 => "fits",
            _ => "does not fit",
        };
        writeln!(f, "second_frame: {second}")?;
        writeln!(f, "commits: {}", self.commits.load(Ordering::Relaxed))?;
        writeln!(f, "rects: {}", self.rects.load(Ordering::Relaxed))?;
        writeln!(f, "bytes: {}", self.bytes.load(Ordering::Relaxed))?;
        writeln!(f, "last_bytes: {}", self.last_bytes.load(Ordering::Relaxed))?;
        writeln!(f, "copy_ns: {}", self.copy_ns.load(Ordering::Relaxed))?;
        writeln!(f, "errors: {}", self.errors.load(Ordering::Relaxed))
    }
}

/// Runs `f` with the bound resources, unless the device is gone.
fn with_hw<R>(
    dev: &drm::Device<RbochsDriver, Ioctl>,
    f: impl FnOnce(&RegData<'_>) -> R,
) -> Option<R> {
    let guard = dev.registration_guard()?;
    Some(guard.registration_data_with(|data| f(data)))
}

/// The primary plane.
pub(crate) struct Primary {
    /// Usable video memory, to refuse framebuffers that do not fit.
    pub(crate) vram_size: usize,
}

#[vtable]
impl DriverPlane for Primary {
    type Driver = RbochsDriver;

    fn atomic_check(plane: &Plane<Self>, check: &mut PlaneCheck<'_>) -> Result {
        // A client may turn the CRTC off and leave its framebuffer on the plane (IGT's
        // modeset transitions do, as i915, amdgpu and virtio-gpu allow): the plane is then
        // invisible, and shown again when the CRTC comes back.
        check.check_no_scaling(false, true)?;
        let state = check.state();
        let Some(fb) = state.fb().filter(|_| state.visible()) else {
            return Ok(());
        };
        // A plane that was not on screen left black or an old image in video memory, not the
        // frame its damage clips are relative to: copy the whole framebuffer.
        if !check.old_state().visible() {
            check.damage_whole_plane();
        }
        // The image is scanned out from offset 0 with the framebuffer's pitch.
        let needed = u64::from(fb.pitch(0)) * u64::from(fb.height());
        if needed > plane.data().vram_size as u64 {
            pr_warn_once!(
                "rbochs: {}x{} framebuffer with pitch {} needs {needed} bytes, video memory has {}\n",
                fb.width(),
                fb.height(),
                fb.pitch(0),
                plane.data().vram_size
            );
            return Err(EINVAL);
        }
        Ok(())
    }

    fn atomic_update(
        _plane: &Plane<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        old: &PlaneState,
        new: &PlaneState,
    ) {
        let Some(fb) = new.fb().filter(|_| new.visible()) else {
            return;
        };
        with_hw(dev, |data| {
            let pitch = fb.pitch(0);
            let start = Instant::<Monotonic>::now();
            let done = new.copy_damage(old, |clip| {
                new.copy_clip(clip, &data.hw.vram, pitch as usize)
            });
            let ns = start.elapsed().as_nanos();
            if let Some((clip, e)) = done.first_error {
                pr_err_once!("rbochs: damage {clip:?} not copied: {e:?}\n");
            }
            data.hw.set_base(
                new.crtc_x().max(0) as u32,
                new.crtc_y().max(0) as u32,
                pitch,
            );
            data.hw.set_format(fb.format());
            let s = &data.stats;
            s.commits.fetch_add(1, Ordering::Relaxed);
            s.rects.fetch_add(done.rects, Ordering::Relaxed);
            s.bytes.fetch_add(done.bytes, Ordering::Relaxed);
            s.errors.fetch_add(done.failed, Ordering::Relaxed);
            s.copy_ns
                .fetch_add(u64::try_from(ns).unwrap_or(0), Ordering::Relaxed);
            s.last_bytes.store(done.bytes, Ordering::Relaxed);
        });
    }

    fn get_scanout_buffer(
        _plane: &Plane<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        current: &PlaneState,
        sb: &mut ScanoutBuffer<'_>,
    ) -> Result {
        let fb = current.fb().ok_or(ENODEV)?;
        with_hw(dev, |data| sb.set(fb, &data.hw.vram, fb.pitch(0))).ok_or(ENODEV)?
    }
}

/// The CRTC.
pub(crate) struct Pipe;

#[vtable]
impl DriverCrtc for Pipe {
    type Driver = RbochsDriver;

    fn atomic_check(_crtc: &Crtc<Self>, _state: &CrtcState) -> Result {
        // The CRTC may be lit with its plane off: it then shows black (`atomic_flush`). The
        // atomic helpers refuse that by default; IGT's plane transitions and `kms_concurrent`
        // do it, and i915, amdgpu and virtio-gpu allow it.
        Ok(())
    }

    fn mode_set_nofb(
        _crtc: &Crtc<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        state: &CrtcState,
    ) {
        let mode = state.mode();
        with_hw(dev, |data| {
            data.hw.set_mode(mode.hdisplay(), mode.vdisplay());
            data.stats
                .width
                .store(mode.hdisplay().into(), Ordering::Relaxed);
            data.stats
                .height
                .store(mode.vdisplay().into(), Ordering::Relaxed);
        });
    }

    fn atomic_enable(_crtc: &Crtc<Self>, dev: &drm::Device<RbochsDriver, Ioctl>) {
        with_hw(dev, |data| data.hw.blank(false));
    }

    fn atomic_disable(_crtc: &Crtc<Self>, dev: &drm::Device<RbochsDriver, Ioctl>) {
        with_hw(dev, |data| {
            data.hw.blank(true);
            data.stats.width.store(0, Ordering::Relaxed);
            data.stats.height.store(0, Ordering::Relaxed);
        });
    }

    fn atomic_flush(
        _crtc: &Crtc<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        old: &CrtcState,
        new: &CrtcState,
    ) {
        // A lit CRTC without a plane shows black, not what video memory last held. Clear it
        // when the plane goes away or the output is programmed anew without one (std-VGA
        // clears its memory when a mode is set, bochs-display does not); video memory then
        // stays black until a plane comes back.
        if !new.active() || new.has_planes() || !(new.needs_modeset() || old.has_planes()) {
            return;
        }
        let mode = new.mode();
        with_hw(dev, |data| {
            if let Err(e) = data.hw.show_black(mode.hdisplay(), mode.vdisplay()) {
                pr_err_once!(
                    "rbochs: cannot clear a {}x{} frame: {e:?}\n",
                    mode.hdisplay(),
                    mode.vdisplay()
                );
            }
        });
    }
}

/// The connector: modes from QEMU's EDID, or the standard list.
pub(crate) struct Output {
    pub(crate) defx: u32,
    pub(crate) defy: u32,
}

#[vtable]
impl DriverConnector for Output {
    type Driver = RbochsDriver;

    fn get_modes(
        connector: &Connector<Self>,
        dev: &drm::Device<RbochsDriver, Ioctl>,
        probe: &mut ModeProbe<'_>,
    ) -> u32 {
        let edid = with_hw(dev, |data| {
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
        let out = connector.data();
        probe.set_preferred_mode(out.defx, out.defy);
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
