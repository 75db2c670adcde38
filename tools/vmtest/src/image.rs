// SPDX-License-Identifier: GPL-2.0
//! Screenshots: PNG and PPM decoding, pixel-exact comparison, and the tear detector.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
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
    /// Reads a PNG or a binary PPM (what QMP `screendump` writes with `"format": "ppm"`),
    /// told apart by their first bytes.
    pub fn load(path: &Path) -> Result<Image> {
        let mut f = File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut magic = [0u8; 2];
        let is_ppm = f.read_exact(&mut magic).is_ok() && &magic == b"P6";
        f.seek(SeekFrom::Start(0))
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        if is_ppm {
            let mut data = Vec::new();
            f.read_to_end(&mut data)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            return Image::from_ppm(&data).map_err(|e| anyhow!("{}: {e}", path.display()));
        }
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

    /// Decodes a binary PPM (`P6`, 8 bits per channel): the header's four fields separated
    /// by whitespace or `#` comments, one whitespace byte, then RGB triplets row by row.
    pub fn from_ppm(data: &[u8]) -> Result<Image> {
        let mut pos = 0;
        let mut fields = Vec::new();
        while fields.len() < 4 {
            match data.get(pos) {
                None => return Err(anyhow!("PPM header ends early")),
                Some(b'#') => {
                    while data.get(pos).is_some_and(|&c| c != b'\n') {
                        pos += 1;
                    }
                }
                Some(c) if c.is_ascii_whitespace() => pos += 1,
                Some(_) => {
                    let start = pos;
                    while data.get(pos).is_some_and(|c| !c.is_ascii_whitespace()) {
                        pos += 1;
                    }
                    fields.push(String::from_utf8_lossy(&data[start..pos]).into_owned());
                }
            }
        }
        // The one whitespace byte that ends the header.
        pos += 1;
        if fields[0] != "P6" {
            return Err(anyhow!("not a binary PPM (magic {:?})", fields[0]));
        }
        let num = |i: usize| {
            fields[i]
                .parse::<u32>()
                .map_err(|_| anyhow!("bad PPM header field '{}'", fields[i]))
        };
        let (width, height, maxval) = (num(1)?, num(2)?, num(3)?);
        if maxval != 255 {
            return Err(anyhow!("PPM with maximum value {maxval}, want 255"));
        }
        let len = width as usize * height as usize * 3;
        let body = data.get(pos..pos + len).ok_or_else(|| {
            anyhow!(
                "PPM of {width}x{height} has {} data bytes, want {len}",
                data.len().saturating_sub(pos)
            )
        })?;
        let pixels = body
            .chunks_exact(3)
            .map(|p| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
            .collect();
        Ok(Image {
            width,
            height,
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

/// What a screenshot of a client alternating two solid colours A and B shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Every pixel is A.
    A,
    /// Every pixel is B.
    B,
    /// Both colours: a frame read while it was being rewritten.
    Torn,
    /// One of the two over something else (the console, black): a first frame being drawn
    /// over what was there before, not a tear between the client's frames.
    Partial,
    /// Neither colour: the console, or black between modes.
    Other,
}

/// How many pixels of a screenshot are A, B, or something else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ColourCount {
    pub a: usize,
    pub b: usize,
    pub other: usize,
}

impl ColourCount {
    /// Counts exact matches: QEMU's screendump copies video memory pixel for pixel, with no
    /// scaling or filtering, so a pixel of A is A exactly, and a single pixel of each colour
    /// is enough to call a frame torn.
    pub fn of(img: &Image, a: u32, b: u32) -> ColourCount {
        let mut c = ColourCount::default();
        for &p in &img.pixels {
            if p == a {
                c.a += 1;
            } else if p == b {
                c.b += 1;
            } else {
                c.other += 1;
            }
        }
        c
    }

    /// The verdict on one screenshot: torn when both colours are in it.
    pub fn frame(&self) -> Frame {
        match (self.a > 0, self.b > 0, self.other > 0) {
            (true, true, _) => Frame::Torn,
            (true, false, false) => Frame::A,
            (false, true, false) => Frame::B,
            (true, false, true) | (false, true, true) => Frame::Partial,
            (false, false, _) => Frame::Other,
        }
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

    const A: u32 = 0xff0000;
    const B: u32 = 0x0000ff;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> u32) -> Image {
        Image {
            width: w,
            height: h,
            pixels: (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .map(|(x, y)| f(x, y))
                .collect(),
        }
    }

    fn frame(img: &Image) -> Frame {
        ColourCount::of(img, A, B).frame()
    }

    #[test]
    fn a_torn_frame_is_flagged() {
        // The top of the new frame over the bottom of the old one.
        let torn = image(64, 48, |_, y| if y < 20 { B } else { A });
        assert_eq!(
            ColourCount::of(&torn, A, B),
            ColourCount {
                a: 64 * 28,
                b: 64 * 20,
                other: 0
            }
        );
        assert_eq!(frame(&torn), Frame::Torn);
        // One stale pixel is a tear: the screendump is exact, there are no edges to allow for.
        assert_eq!(
            frame(&image(64, 48, |x, y| if (x, y) == (63, 47) {
                B
            } else {
                A
            })),
            Frame::Torn
        );
        // Both colours and something else besides.
        assert_eq!(
            frame(&image(64, 48, |x, _| [A, B, 0][x as usize % 3])),
            Frame::Torn
        );
    }

    #[test]
    fn solid_frames_are_not_torn() {
        assert_eq!(frame(&image(64, 48, |_, _| A)), Frame::A);
        assert_eq!(frame(&image(64, 48, |_, _| B)), Frame::B);
    }

    #[test]
    fn the_console_and_black_are_neither() {
        assert_eq!(frame(&image(64, 48, |_, _| 0)), Frame::Other);
        // fbcon's red and blue are not the client's.
        assert_eq!(
            frame(&image(64, 48, |x, _| [0xaa0000, 0x0000aa, 0][x as usize % 3])),
            Frame::Other
        );
        // The first frame drawn over the console: one colour and old pixels, not a tear.
        assert_eq!(
            frame(&image(64, 48, |_, y| if y < 10 { A } else { 0 })),
            Frame::Partial
        );
        assert_eq!(
            frame(&image(64, 48, |_, y| if y < 10 { 0x5555ff } else { B })),
            Frame::Partial
        );
    }

    #[test]
    fn ppm_screendumps_decode() -> Result<()> {
        let mut data = b"P6\n# QEMU\n3 2\n255\n".to_vec();
        for p in [A, B, 0x123456, 0, 0xffffff, 0x0a0b0c] {
            data.extend_from_slice(&p.to_be_bytes()[1..]);
        }
        let img = Image::from_ppm(&data)?;
        assert_eq!((img.width, img.height), (3, 2));
        assert_eq!(img.pixels, [A, B, 0x123456, 0, 0xffffff, 0x0a0b0c]);
        // A data byte that looks like whitespace right after the header is data.
        let img = Image::from_ppm(b"P6 1 1 255\n\n\n\n")?;
        assert_eq!(img.pixels, [0x0a0a0a]);
        let e = Image::from_ppm(&data[..data.len() - 1])
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("PPM of 3x2 has 17 data bytes, want 18"));
        assert!(Image::from_ppm(b"P6 1 1 65535\n\0\0\0\0\0\0").is_err());
        assert!(Image::from_ppm(b"P3 1 1 255\n0 0 0").is_err());
        assert!(Image::from_ppm(b"P6 1").is_err());

        let dir = std::env::temp_dir().join(format!("vmtest-ppm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("shot.ppm");
        std::fs::write(&p, &data).unwrap();
        assert_eq!(Image::load(&p)?.pixels[1], B);
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
