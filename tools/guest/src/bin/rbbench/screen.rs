// SPDX-License-Identifier: GPL-2.0
//! What the workloads draw and commit: rectangles, the canvas, the screen and video memory.

use std::os::fd::AsFd;

use anyhow::anyhow;
use drm::control::{
    atomic::AtomicModeReq, dumbbuffer::DumbBuffer, framebuffer, plane, property, ClipRect,
    Device as ControlDevice,
};
use rbguest::{
    buffer, commit_with_damage, pipe, primary_plane, Card, DamageRect, Pipe, Result, SharedMap,
};

use super::TILE;

/// A rectangle `x, y, w, h` in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    /// Its size in bytes of XRGB8888 pixels.
    pub fn bytes(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h) * 4
    }

    /// As an FB_DAMAGE_CLIPS rectangle.
    pub fn damage(&self) -> DamageRect {
        // Every rectangle lies within a mode of at most 65535 pixels a side.
        let c = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        DamageRect {
            x1: c(self.x),
            y1: c(self.y),
            x2: c(self.x + self.w),
            y2: c(self.y + self.h),
        }
    }

    /// Fails unless the rectangle lies within lines of `pitch` bytes.
    pub fn check_width(&self, pitch: usize) -> Result<()> {
        if (self.x as usize + self.w as usize) * 4 > pitch {
            return Err(anyhow!(
                "rectangle {self:?} wider than a line of {pitch} bytes"
            ));
        }
        Ok(())
    }

    /// As a DIRTYFB clip.
    pub fn clip(&self) -> Result<ClipRect> {
        let c = |v: u32| u16::try_from(v).map_err(|_| anyhow!("{v} too large for DIRTYFB"));
        Ok(ClipRect::new(
            c(self.x)?,
            c(self.y)?,
            c(self.x + self.w)?,
            c(self.y + self.h)?,
        ))
    }
}

/// `n` distinct 64x64 tiles spread evenly over a `w`x`h` screen (row-major cells).
pub fn tiles(n: u32, w: u32, h: u32) -> Result<Vec<Rect>> {
    let (cols, rows) = (w / TILE, h / TILE);
    let cells = cols * rows;
    if n == 0 || n > cells {
        return Err(anyhow!("{n} tiles of {TILE}x{TILE} do not fit {w}x{h}"));
    }
    let step = cells / n;
    Ok((0..n)
        .map(|k| {
            let c = k * step;
            Rect {
                x: (c % cols) * TILE,
                y: (c / cols) * TILE,
                w: TILE,
                h: TILE,
            }
        })
        .collect())
}

/// A frame's worth of memory the client draws into: a mapped dumb buffer, or plain RAM for
/// the memcpy baseline.
pub struct Canvas<'a> {
    pub mem: &'a mut [u8],
    pub pitch: usize,
}

impl Canvas<'_> {
    /// Draws frame `i` inside `r`: horizontal bands that move with `i`, so every frame
    /// differs from the last one everywhere in the rectangle.
    pub fn draw(&mut self, r: &Rect, i: u32) -> Result<()> {
        r.check_width(self.pitch)?;
        let line = r.w as usize * 4;
        let a = 0x0020_4080u32.wrapping_add(i.wrapping_mul(0x0001_0305));
        let b = !a & 0x00ff_ffff;
        let row_a: Vec<u8> = a.to_le_bytes().repeat(r.w as usize);
        let row_b: Vec<u8> = b.to_le_bytes().repeat(r.w as usize);
        for y in r.y..r.y + r.h {
            let off = y as usize * self.pitch + r.x as usize * 4;
            let dst = self
                .mem
                .get_mut(off..off + line)
                .ok_or_else(|| anyhow!("rectangle {r:?} outside the buffer"))?;
            let band = (y.wrapping_add(i.wrapping_mul(8)) / 32) % 2;
            dst.copy_from_slice(if band == 0 { &row_a } else { &row_b });
        }
        Ok(())
    }
}

/// Copies the rectangles `rects` from `src` to `dst` (both of `pitch` bytes per line), as a
/// driver copies damage into video memory.
pub fn copy_rects(dst: &mut [u8], src: &[u8], pitch: usize, rects: &[Rect]) -> Result<()> {
    for r in rects {
        r.check_width(pitch)?;
        let line = r.w as usize * 4;
        if line == pitch {
            // Whole lines: one copy, as the drivers make for a full frame.
            let off = r.y as usize * pitch;
            let len = r.h as usize * pitch;
            let (d, s) = (dst.get_mut(off..off + len), src.get(off..off + len));
            match (d, s) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => return Err(anyhow!("rectangle {r:?} outside the buffer")),
            }
            continue;
        }
        for y in r.y..r.y + r.h {
            let off = y as usize * pitch + r.x as usize * 4;
            let (d, s) = (dst.get_mut(off..off + line), src.get(off..off + line));
            match (d, s) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => return Err(anyhow!("rectangle {r:?} outside the buffer")),
            }
        }
    }
    Ok(())
}

/// What a damaged commit names: the framebuffer and the primary plane's properties.
#[derive(Clone, Copy)]
pub struct Target {
    pub fb: framebuffer::Handle,
    pub plane: plane::Handle,
    pub fb_id: property::Handle,
    pub damage: property::Handle,
}

impl Target {
    /// A blocking atomic commit of the same framebuffer with `clips` (an FB_DAMAGE_CLIPS
    /// blob) as its damage.
    pub fn commit(&self, card: &Card, clips: &[u8]) -> Result<()> {
        let mut req = AtomicModeReq::new();
        req.add_property(
            self.plane,
            self.fb_id,
            property::Value::Framebuffer(Some(self.fb)),
        );
        commit_with_damage(card, req, self.plane, self.damage, clips)
    }
}

/// A mode set up for updates: a framebuffer of its size on screen.
pub struct Screen {
    pub pipe: Pipe,
    pub db: DumbBuffer,
    pub target: Target,
}

impl Screen {
    /// Sets mode `size` (`WxH`) with a new framebuffer.
    pub fn new(card: &Card, size: &str) -> Result<Screen> {
        let pipe = pipe(card, size)?;
        let (db, fb) = buffer(card, &pipe, 1)?;
        card.set_crtc(pipe.crtc, Some(fb), (0, 0), &[pipe.conn], Some(pipe.mode))
            .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
        let (plane, props) = primary_plane(card, &pipe)?;
        let target = Target {
            fb,
            plane,
            fb_id: props.get("FB_ID")?,
            damage: props.get("FB_DAMAGE_CLIPS")?,
        };
        Ok(Screen { pipe, db, target })
    }

    /// The mode's width and height.
    pub fn size(&self) -> (u32, u32) {
        let (w, h) = self.pipe.mode.size();
        (w.into(), h.into())
    }

    /// Frees the framebuffer and its buffer (the mode stays set).
    pub fn free(self, card: &Card) {
        let _ = card.destroy_framebuffer(self.target.fb);
        let _ = card.destroy_dumb_buffer(self.db);
    }
}

/// How a workload reports its damage.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `FB_DAMAGE_CLIPS` on an atomic commit.
    Atomic,
    /// The `DIRTYFB` ioctl.
    DirtyFb,
}

/// The upper half of the device's video memory, mapped write-combined through sysfs.
pub struct Vram(SharedMap);

impl Vram {
    /// Maps video memory (PCI BAR 0) of `card`, if the kernel offers a write-combined mapping
    /// (a plain `resource0` mapping is Device memory on arm64, where memcpy's unaligned
    /// accesses fault).
    pub fn open(card: &Card) -> Option<Vram> {
        let st = rustix::fs::fstat(card.as_fd()).ok()?;
        let (maj, min) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
        let path = format!("/sys/dev/char/{maj}:{min}/device/resource0_wc");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        let len = usize::try_from(f.metadata().ok()?.len()).ok()?;
        SharedMap::new(&f, len, 0).ok().map(Vram)
    }

    /// The half of video memory above what any mode of the benchmark scans out.
    pub fn upper_half(&mut self) -> &mut [u8] {
        let all = self.0.as_mut_slice();
        let half = all.len() / 2;
        &mut all[half..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_distinct_and_inside() -> Result<()> {
        for n in [1, 8, 64] {
            let t = tiles(n, 1920, 1080)?;
            assert_eq!(t.len(), n as usize);
            for (i, a) in t.iter().enumerate() {
                assert!(a.x + a.w <= 1920 && a.y + a.h <= 1080, "{a:?}");
                for b in &t[i + 1..] {
                    let apart = a.x + a.w <= b.x
                        || b.x + b.w <= a.x
                        || a.y + a.h <= b.y
                        || b.y + b.h <= a.y;
                    assert!(apart, "{a:?} overlaps {b:?}");
                }
            }
        }
        assert!(tiles(0, 1920, 1080).is_err());
        assert!(tiles(1000, 1920, 1080).is_err());
        Ok(())
    }

    #[test]
    fn rect_copies_stay_inside() -> Result<()> {
        let pitch = 16 * 4;
        let mut src = vec![0u8; pitch * 16];
        let mut c = Canvas {
            mem: &mut src,
            pitch,
        };
        let r = Rect {
            x: 4,
            y: 4,
            w: 8,
            h: 8,
        };
        c.draw(&r, 3)?;
        let mut dst = vec![0u8; pitch * 16];
        copy_rects(&mut dst, &src, pitch, &[r])?;
        assert_eq!(dst, src);
        let out = Rect {
            x: 12,
            y: 0,
            w: 8,
            h: 1,
        };
        assert!(copy_rects(&mut dst, &src, pitch, &[out]).is_err());
        Ok(())
    }
}
