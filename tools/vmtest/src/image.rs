// SPDX-License-Identifier: GPL-2.0
//! Screenshots: PNG decoding and pixel-exact comparison.

use std::fs::File;
use std::path::Path;

use anyhow::anyhow;

use crate::Result;

/// A screenshot that is not the image expected: what [`Image::compare`] fails with, so that a
/// caller can tell a wrong picture from a failure to take one.
#[derive(Debug)]
pub struct PixelsDiffer {
    pub bad: usize,
    pub total: usize,
    /// The first few differing pixels.
    pub first: String,
}

impl std::fmt::Display for PixelsDiffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} pixels differ: {}",
            self.bad, self.total, self.first
        )
    }
}

impl std::error::Error for PixelsDiffer {}

/// An RGB image, one `0x00RRGGBB` word per pixel.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u32>,
}

impl Image {
    pub fn load(path: &Path) -> Result<Image> {
        let f = File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut dec = png::Decoder::new(f);
        dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut rd = dec
            .read_info()
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut buf = vec![0; rd.output_buffer_size()];
        let info = rd
            .next_frame(&mut buf)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let bpp = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            t => {
                return Err(anyhow!(
                    "{}: unexpected PNG colour type {t:?}",
                    path.display()
                ))
            }
        };
        let mut pixels = Vec::with_capacity((info.width * info.height) as usize);
        for row in buf[..info.buffer_size()].chunks_exact(info.line_size) {
            for p in row.chunks_exact(bpp) {
                pixels.push(u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]));
            }
        }
        Ok(Image {
            width: info.width,
            height: info.height,
            pixels,
        })
    }

    pub fn at(&self, x: u32, y: u32) -> u32 {
        self.pixels[(y * self.width + x) as usize]
    }

    /// Compares against `expect` over the whole image; describes the first
    /// mismatches and how many pixels differ.
    pub fn compare(&self, expect: impl Fn(u32, u32) -> u32) -> Result<()> {
        let mut bad = 0usize;
        let mut first = Vec::new();
        for y in 0..self.height {
            for x in 0..self.width {
                let (got, want) = (self.at(x, y), expect(x, y));
                if got != want {
                    bad += 1;
                    if first.len() < 5 {
                        first.push(format!("({x},{y}) is {got:06x}, want {want:06x}"));
                    }
                }
            }
        }
        if bad == 0 {
            Ok(())
        } else {
            Err(PixelsDiffer {
                bad,
                total: self.pixels.len(),
                first: first.join("; "),
            }
            .into())
        }
    }

    /// How many distinct colours the image has (a blank screen has one).
    pub fn colours(&self) -> usize {
        let mut v = self.pixels.clone();
        v.sort_unstable();
        v.dedup();
        v.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
        let file = File::create(path).unwrap();
        let mut enc = png::Encoder::new(file, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&f(x, y));
            }
        }
        wr.write_image_data(&data).unwrap();
    }

    #[test]
    fn load_and_compare() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("vmtest-img-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.png");
        write_png(&p, 7, 3, |x, y| [x as u8, y as u8, 0x80]);
        let img = Image::load(&p)?;
        assert_eq!((img.width, img.height), (7, 3));
        assert_eq!(img.at(6, 2), 0x060280);
        img.compare(|x, y| x << 16 | y << 8 | 0x80)?;
        let err = img
            .compare(|x, y| {
                if (x, y) == (3, 1) {
                    0
                } else {
                    x << 16 | y << 8 | 0x80
                }
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("1 of 21 pixels differ: (3,1) is 030180"),
            "{err}"
        );
        assert_eq!(img.colours(), 21);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
