// SPDX-License-Identifier: GPL-2.0
//! A writer for the "newc" cpio format the kernel unpacks as initramfs.
//!
//! Written here rather than taken from a crate: an initramfs needs only directories and
//! regular files with fixed modes and owners, a 110-byte header and padding each, and the
//! archive must be the same bytes for the same inputs (no times or inode numbers from the
//! host), which this writer gives by construction.

use std::io::Write;

use anyhow::anyhow;

use crate::Result;

/// An initramfs under construction, held in memory.
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<()> {
        let name = name.trim_start_matches('/');
        if name.is_empty() || name.contains('\0') {
            return Err(anyhow!("cpio: bad name '{name}'"));
        }
        let size = u32::try_from(data.len()).map_err(|_| anyhow!("cpio: {name} is over 4 GiB"))?;
        self.ino += 1;
        let namesize = name.len() + 1;
        let hdr = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0
        );
        self.buf.extend_from_slice(hdr.as_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
        Ok(())
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    pub fn dir(&mut self, name: &str) -> Result<()> {
        self.entry(name, S_IFDIR | 0o755, &[])
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.entry(name, S_IFREG | (perm & 0o7777), data)
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(mut self, out: &mut impl Write) -> Result<()> {
        self.ino = 0;
        self.entry("TRAILER!!!", 0, &[])?;
        out.write_all(&self.buf).map_err(|e| anyhow!("cpio: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() -> Result<()> {
        let mut c = Cpio::default();
        c.file("/init", 0o755, b"#!/bin/sh\n")?;
        let mut out = Vec::new();
        c.finish(&mut out)?;
        assert_eq!(&out[..6], b"070701");
        // 110-byte header, "init\0" padded to 116, then 10 data bytes padded to 128.
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(&out[116..126], b"#!/bin/sh\n");
        assert_eq!(&out[128..134], b"070701");
        assert_eq!(out.len() % 4, 0);
        let mode = u32::from_str_radix(std::str::from_utf8(&out[14..22]).unwrap(), 16).unwrap();
        assert_eq!(mode, S_IFREG | 0o755);
        Ok(())
    }

    #[test]
    fn rejects_empty_name() {
        let mut c = Cpio::default();
        assert!(c.file("/", 0o644, b"").is_err());
    }
}
