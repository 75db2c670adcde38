// SPDX-License-Identifier: GPL-2.0

//! The hardware: bochs DISPI registers, VGA attribute registers and QEMU's extensions, all in
//! the MMIO BAR (2), and the video memory in BAR 0.
//!
//! Glossary:
//! - DISPI: the bochs "display interface", 16-bit registers selecting resolution, depth and the
//!   visible window into video memory. QEMU mirrors them at MMIO offset `0x500 + 2 * index`.
//! - VGA attribute controller: used only to blank the output; ports `0x3c0..0x3df` appear at MMIO
//!   offset `0x400 + (port - 0x3c0)`.
//! - QEMU extended registers (`0x600`): their size and the framebuffer byte order.
//! - EDID: QEMU exposes the display's EDID blob at MMIO offset 0.
//!
//! Every MMIO access is a single load or store of the register's width: under KVM on arm64 an
//! access with writeback addressing traps without syndrome, and MMIO is never `memcpy`d.

use core::sync::atomic::{
    AtomicU32,
    Ordering, //
};

use kernel::{
    device::Bound,
    drm::kms::format::Format,
    io::{
        memremap::CachePolicy,
        Io, //
    },
    module_param::ModuleParam,
    pci,
    prelude::*,
    str::BStr, //
};

/// Size of the MMIO BAR that every QEMU version provides: EDID, VGA and DISPI registers.
const MMIO_SIZE: usize = 0x600;
/// Offset and size of the QEMU extended registers, present from PCI revision 2.
const QEXT_OFFSET: usize = 0x600;
const QEXT_ENDIAN: usize = 0x604;
/// Bytes of EDID data QEMU can expose before the VGA registers start.
const EDID_SIZE: usize = 0x400;

/// `VBE_DISPI_ID0`: the ID family every bochs DISPI version reports in its upper 12 bits.
const DISPI_ID_FAMILY: u16 = 0xb0c0;

mod regs {
    use kernel::io::register;

    register! {
        /// DISPI interface version (`VBE_DISPI_INDEX_ID`).
        pub(super) DISPI_ID(u16) @ 0x500 {
            15:0 id;
        }
        /// Visible width in pixels.
        pub(super) DISPI_XRES(u16) @ 0x502 {
            15:0 xres;
        }
        /// Visible height in lines.
        pub(super) DISPI_YRES(u16) @ 0x504 {
            15:0 yres;
        }
        /// Bits per pixel.
        pub(super) DISPI_BPP(u16) @ 0x506 {
            15:0 bpp;
        }
        /// Mode enable.
        pub(super) DISPI_ENABLE(u16) @ 0x508 {
            /// The DISPI mode is active.
            0:0 enabled => bool;
            /// Linear framebuffer: video memory is one flat image.
            6:6 lfb_enabled => bool;
        }
        /// Bank for the legacy banked window; 0 with a linear framebuffer.
        pub(super) DISPI_BANK(u16) @ 0x50a {
            15:0 bank;
        }
        /// Width of the virtual screen in pixels: the scanline pitch.
        pub(super) DISPI_VIRT_WIDTH(u16) @ 0x50c {
            15:0 width;
        }
        /// Height of the virtual screen in lines.
        pub(super) DISPI_VIRT_HEIGHT(u16) @ 0x50e {
            15:0 height;
        }
        /// Horizontal offset of the visible window in the virtual screen.
        pub(super) DISPI_X_OFFSET(u16) @ 0x510 {
            15:0 offset;
        }
        /// Vertical offset of the visible window in the virtual screen.
        pub(super) DISPI_Y_OFFSET(u16) @ 0x512 {
            15:0 offset;
        }
        /// Video memory size in 64 KiB units.
        pub(super) DISPI_VIDEO_MEMORY_64K(u16) @ 0x514 {
            15:0 blocks;
        }
        /// VGA miscellaneous output register, write side (port 0x3c2).
        pub(super) VGA_MIS_W(u8) @ 0x402 {
            /// Colour mode: the input status register answers at 0x3da.
            0:0 color => bool;
        }
        /// VGA input status 1 (port 0x3da); reading it resets the attribute flip-flop.
        pub(super) VGA_IS1_RC(u8) @ 0x41a {
            7:0 status;
        }
        /// VGA attribute controller index (port 0x3c0).
        pub(super) VGA_ATT_W(u8) @ 0x400 {
            /// Palette address source: set, the display shows; clear, it is blanked.
            5:5 palette_enable => bool;
            4:0 index;
        }
    }
}

/// The `vram_cache` module parameter: how to map the video memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VramCache {
    /// `auto`: the architecture's right choice, see [`vram_policy`].
    Auto,
    /// `wb`: write-back, cached.
    WriteBack,
    /// `wc`: write-combining, uncached.
    WriteCombine,
}

impl ModuleParam for VramCache {
    fn try_from_param_arg(arg: &BStr) -> Result<Self> {
        match &**arg {
            b"auto" => Ok(Self::Auto),
            b"wb" => Ok(Self::WriteBack),
            b"wc" => Ok(Self::WriteCombine),
            _ => {
                pr_err!("vram_cache must be auto, wb or wc\n");
                Err(EINVAL)
            }
        }
    }
}

/// Picks how to map the video memory.
///
/// The video memory of these devices is host RAM that QEMU reads through a cacheable mapping.
/// On arm64 a guest mapping that is not cacheable (write-combining is Normal Non-cacheable) is a
/// mismatched alias of that memory: under KVM the guest's stores go around the caches, QEMU
/// reads stale cache lines and the screen stops updating. A write-back mapping makes both sides
/// agree. Elsewhere (x86) write-combining is coherent with the host and is what the C driver
/// uses, so it stays. The `vram_cache` module parameter overrides the choice.
pub(crate) fn vram_policy(param: VramCache) -> CachePolicy {
    match param {
        VramCache::WriteBack => CachePolicy::WriteBack,
        VramCache::WriteCombine => CachePolicy::WriteCombine,
        VramCache::Auto if cfg!(CONFIG_ARM64) => CachePolicy::WriteBack,
        VramCache::Auto => CachePolicy::WriteCombine,
    }
}

/// Largest DISPI Y offset QEMU accepts (`VBE_DISPI_MAX_YRES`); a larger one is clamped.
pub(crate) const MAX_Y_OFFSET: u32 = 12000;

/// Register value not known (not written since probe or the last mode set).
const UNKNOWN: u32 = u32::MAX;

/// The values last written to the registers an update may change, so that an update writes
/// only what changed: under KVM every access is a trap to QEMU.
struct Written {
    virt_width: AtomicU32,
    x_offset: AtomicU32,
    y_offset: AtomicU32,
    little_endian: AtomicU32,
}

impl Written {
    /// Records `value` for the register behind `reg`; returns whether it has to be written.
    fn changes(reg: &AtomicU32, value: u32) -> bool {
        reg.swap(value, Ordering::Relaxed) != value
    }

    fn forget(&self) {
        for reg in [
            &self.virt_width,
            &self.x_offset,
            &self.y_offset,
            &self.little_endian,
        ] {
            reg.store(UNKNOWN, Ordering::Relaxed);
        }
    }
}

/// The bound hardware: register BAR and video memory.
pub(crate) struct Hw<'a> {
    mmio: pci::Bar<'a, MMIO_SIZE>,
    pub(crate) vram: pci::MemBar<'a>,
    /// The QEMU extended registers are present (framebuffer byte order).
    qext: bool,
    written: Written,
}

impl<'a> Hw<'a> {
    /// Maps both BARs and checks that this is a bochs DISPI device; returns it with the usable
    /// video memory size: the smaller of the BAR and what DISPI reports.
    pub(crate) fn new(pdev: &'a pci::Device<Bound>, policy: CachePolicy) -> Result<(Self, usize)> {
        let mmio = pdev
            .iomap_region_sized::<MMIO_SIZE>(2, c"rbochs-mmio")
            .inspect_err(|e| dev_err!(pdev, "no usable MMIO BAR 2 ({e:?})\n"))?;

        let id = mmio.read(regs::DISPI_ID).id().get();
        if id & 0xfff0 != DISPI_ID_FAMILY {
            dev_err!(pdev, "DISPI ID {id:#06x} is not a bochs display\n");
            return Err(ENODEV);
        }
        let dispi_mem = usize::from(mmio.read(regs::DISPI_VIDEO_MEMORY_64K).blocks().get()) << 16;

        let vram = pdev
            .memremap_bar(0, c"rbochs-vram", policy)
            .inspect_err(|e| dev_err!(pdev, "cannot map video memory BAR 0 ({e:?})\n"))?;
        let mut vram_size = vram.size();
        if dispi_mem != vram_size {
            dev_warn!(
                pdev,
                "BAR 0 has {vram_size} bytes, DISPI reports {dispi_mem}; using the smaller\n"
            );
            vram_size = vram_size.min(dispi_mem);
        }
        if vram_size == 0 {
            dev_err!(pdev, "no video memory\n");
            return Err(ENODEV);
        }

        let qext = pdev.revision_id() >= 2
            && mmio
                .try_read32(QEXT_OFFSET)
                .is_ok_and(|size| size >= 8 && (size as usize) <= QEXT_OFFSET + 0x100);

        dev_info!(
            pdev,
            "bochs DISPI {id:#06x}, {} KiB video memory mapped {}\n",
            vram_size / 1024,
            match policy {
                CachePolicy::WriteBack => "write-back (cached)",
                CachePolicy::WriteCombine => "write-combining",
            }
        );

        let written = Written {
            virt_width: AtomicU32::new(UNKNOWN),
            x_offset: AtomicU32::new(UNKNOWN),
            y_offset: AtomicU32::new(UNKNOWN),
            little_endian: AtomicU32::new(UNKNOWN),
        };
        let hw = Self {
            mmio,
            vram,
            qext,
            written,
        };
        hw.set_little_endian(true);
        Ok((hw, vram_size))
    }

    /// Sets the framebuffer byte order, if the device lets us and it changes.
    fn set_little_endian(&self, little: bool) {
        if self.qext && Written::changes(&self.written.little_endian, little.into()) {
            let v = if little { 0x1e1e_1e1e } else { 0xbebe_bebe };
            let _ = self.mmio.try_write32(v, QEXT_ENDIAN);
        }
    }

    /// Programs a 32 bpp linear mode of `width` x `height`, scanning out from offset 0 of
    /// `vram_size` bytes of video memory.
    pub(crate) fn set_mode(&self, width: u16, height: u16, vram_size: usize) {
        let stride = usize::from(width) * 4;
        let virt_height = u16::try_from(vram_size / stride.max(1)).unwrap_or(u16::MAX);
        // After a reset (resume) the registers hold their defaults: write everything anew.
        self.written.forget();
        let m = &self.mmio;
        m.write_reg(regs::DISPI_ENABLE::zeroed());
        m.write_reg(regs::DISPI_BPP::zeroed().with_bpp(32u16));
        m.write_reg(regs::DISPI_XRES::zeroed().with_xres(width));
        m.write_reg(regs::DISPI_YRES::zeroed().with_yres(height));
        m.write_reg(regs::DISPI_BANK::zeroed());
        m.write_reg(regs::DISPI_VIRT_WIDTH::zeroed().with_width(width));
        m.write_reg(regs::DISPI_VIRT_HEIGHT::zeroed().with_height(virt_height));
        m.write_reg(regs::DISPI_X_OFFSET::zeroed());
        m.write_reg(regs::DISPI_Y_OFFSET::zeroed());
        m.write_reg(
            regs::DISPI_ENABLE::zeroed()
                .with_enabled(true)
                .with_lfb_enabled(true),
        );
    }

    /// Shows the image at `(x, y)` of a virtual screen with `pitch` bytes per line that starts
    /// at offset 0 of video memory. Writes only the registers whose value changes: moving `y`
    /// by a frame's height is one register write.
    pub(crate) fn set_base(&self, x: u32, y: u32, pitch: u32) {
        let m = &self.mmio;
        let w = &self.written;
        if Written::changes(&w.virt_width, pitch / 4) {
            m.write_reg(regs::DISPI_VIRT_WIDTH::zeroed().with_width((pitch / 4) as u16));
            // QEMU moves the offsets back to 0 where the new width leaves them out of range.
            w.x_offset.store(UNKNOWN, Ordering::Relaxed);
            w.y_offset.store(UNKNOWN, Ordering::Relaxed);
        }
        if Written::changes(&w.x_offset, x) {
            m.write_reg(regs::DISPI_X_OFFSET::zeroed().with_offset(x as u16));
        }
        if Written::changes(&w.y_offset, y) {
            m.write_reg(regs::DISPI_Y_OFFSET::zeroed().with_offset(y as u16));
        }
    }

    /// Shows black: clears a `width` x `height` frame at offset 0 of video memory and scans it
    /// out. Fails with `ERANGE`, changing nothing, if the frame does not fit.
    pub(crate) fn show_black(&self, width: u16, height: u16) -> Result {
        let pitch = usize::from(width) * 4;
        self.vram
            .fill_rows(0, pitch, pitch, usize::from(height), 0)?;
        self.set_base(0, 0, u32::from(width) * 4);
        Ok(())
    }

    /// Selects the byte order for `format`: XRGB8888 and ARGB8888 are little-endian,
    /// BGRX8888 and BGRA8888 big-endian.
    pub(crate) fn set_format(&self, format: Format) {
        self.set_little_endian(format != Format::BGRX8888 && format != Format::BGRA8888);
    }

    /// Blanks or unblanks the output through the VGA attribute controller.
    pub(crate) fn blank(&self, blank: bool) {
        let m = &self.mmio;
        m.write_reg(regs::VGA_MIS_W::zeroed().with_color(true));
        let _ = m.read(regs::VGA_IS1_RC);
        m.write_reg(regs::VGA_ATT_W::zeroed().with_palette_enable(!blank));
    }

    /// Reads `buf.len()` bytes of EDID from byte `block * 128`, one byte load at a time.
    pub(crate) fn read_edid(&self, block: u32, buf: &mut [u8]) -> Result {
        let start = usize::try_from(block)? * 128;
        if start + buf.len() > EDID_SIZE {
            return Err(EINVAL);
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.mmio.try_read8(start + i)?;
        }
        Ok(())
    }
}
