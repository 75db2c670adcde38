// SPDX-License-Identifier: GPL-2.0
//! A minimal VNC viewer, so that QEMU's display side works during the bench as it does for a
//! user watching the guest.
//!
//! Without a viewer QEMU never reads video memory (`-display none`): no display-side cost
//! would show, and none of the full redraw a moved scanout start causes. The viewer speaks
//! RFB 3.8 over QEMU's VNC Unix socket with no authentication, asks for raw pixels (and the
//! DesktopSize pseudo-encoding, for mode changes) and requests the next incremental update as
//! soon as one arrives, as viewers do; it throws the pixels away.
//!
//! Written here rather than taken from a crate: the VNC client crates are asynchronous
//! (tokio) and bring decoders for encodings the bench never asks for.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::Result;

/// RFB encodings: raw pixels, and the DesktopSize pseudo-encoding.
const RAW: i32 = 0;
const DESKTOP_SIZE: i32 = -223;

/// What the viewer received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Framebuffer updates.
    pub updates: u64,
    /// Bytes of pixels.
    pub bytes: u64,
    /// Desktop size changes.
    pub resizes: u64,
}

fn u16_at(b: &[u8], i: usize) -> usize {
    usize::from(u16::from_be_bytes([b[i], b[i + 1]]))
}

fn read_n(s: &mut impl Read, n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0; n];
    s.read_exact(&mut b).map_err(|e| anyhow!("VNC: {e}"))?;
    Ok(b)
}

/// Reads and drops `n` bytes.
fn skip(s: &mut impl Read, n: u64) -> Result<()> {
    let got =
        std::io::copy(&mut s.take(n), &mut std::io::sink()).map_err(|e| anyhow!("VNC: {e}"))?;
    if got != n {
        return Err(anyhow!("VNC: connection closed in a message"));
    }
    Ok(())
}

fn update_request(incremental: bool, w: usize, h: usize) -> Vec<u8> {
    let mut m = vec![3, u8::from(incremental), 0, 0, 0, 0];
    // Sizes come from the server's u16 fields.
    m.extend_from_slice(&(w as u16).to_be_bytes());
    m.extend_from_slice(&(h as u16).to_be_bytes());
    m
}

/// The handshake up to the first update request; returns the screen size and bytes per
/// pixel.
fn handshake(s: &mut UnixStream) -> Result<(usize, usize, usize)> {
    let version = read_n(s, 12)?;
    if !version.starts_with(b"RFB 003.") {
        return Err(anyhow!("VNC: not an RFB server: {version:?}"));
    }
    let w = |s: &mut UnixStream, b: &[u8]| s.write_all(b).map_err(|e| anyhow!("VNC: {e}"));
    w(s, b"RFB 003.008\n")?;
    let n = usize::from(read_n(s, 1)?[0]);
    if n == 0 {
        let len = u32::from_be_bytes(read_n(s, 4)?.try_into().unwrap_or_default());
        let why = read_n(s, len as usize)?;
        return Err(anyhow!("VNC: refused: {}", String::from_utf8_lossy(&why)));
    }
    if !read_n(s, n)?.contains(&1) {
        return Err(anyhow!("VNC: the server wants authentication"));
    }
    w(s, &[1])?;
    if read_n(s, 4)? != [0, 0, 0, 0] {
        return Err(anyhow!("VNC: security handshake failed"));
    }
    // Shared: other viewers may stay.
    w(s, &[1])?;
    let init = read_n(s, 24)?;
    let (width, height, bpp) = (u16_at(&init, 0), u16_at(&init, 2), usize::from(init[4]));
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
    skip(s, u64::from(name_len))?;
    if bpp == 0 || bpp % 8 != 0 {
        return Err(anyhow!("VNC: {bpp} bits per pixel"));
    }
    let mut enc = vec![2, 0, 0, 2];
    for e in [RAW, DESKTOP_SIZE] {
        enc.extend_from_slice(&e.to_be_bytes());
    }
    w(s, &enc)?;
    w(s, &update_request(false, width, height))?;
    Ok((width, height, bpp / 8))
}

/// Views until the server closes the connection (or [`Viewer::stop`] shuts it down).
pub fn view(mut s: UnixStream) -> Result<Seen> {
    let (mut width, mut height, bytes_pp) = handshake(&mut s)?;
    let mut seen = Seen::default();
    loop {
        let mut kind = [0u8; 1];
        match s.read(&mut kind) {
            Ok(0) => return Ok(seen),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Shut down from our side.
            Err(_) => return Ok(seen),
        }
        match kind[0] {
            0 => {
                let hdr = read_n(&mut s, 3)?;
                for _ in 0..u16_at(&hdr, 1) {
                    let r = read_n(&mut s, 12)?;
                    let (rw, rh) = (u16_at(&r, 4), u16_at(&r, 6));
                    match i32::from_be_bytes([r[8], r[9], r[10], r[11]]) {
                        RAW => {
                            let n = (rw * rh * bytes_pp) as u64;
                            skip(&mut s, n)?;
                            seen.bytes += n;
                        }
                        DESKTOP_SIZE => {
                            (width, height) = (rw, rh);
                            seen.resizes += 1;
                        }
                        e => return Err(anyhow!("VNC: unexpected encoding {e}")),
                    }
                }
                seen.updates += 1;
                s.write_all(&update_request(true, width, height))
                    .map_err(|e| anyhow!("VNC: {e}"))?;
            }
            // SetColourMapEntries.
            1 => {
                let hdr = read_n(&mut s, 5)?;
                skip(&mut s, 6 * u16_at(&hdr, 3) as u64)?;
            }
            // Bell.
            2 => {}
            // ServerCutText.
            3 => {
                let hdr = read_n(&mut s, 7)?;
                skip(
                    &mut s,
                    u64::from(u32::from_be_bytes([hdr[3], hdr[4], hdr[5], hdr[6]])),
                )?;
            }
            k => return Err(anyhow!("VNC: unexpected message type {k}")),
        }
    }
}

/// A viewer running on a thread of its own.
pub struct Viewer {
    sock: UnixStream,
    thread: JoinHandle<Result<Seen>>,
}

impl Viewer {
    /// Connects to QEMU's VNC socket at `path` (waiting for QEMU to create it) and starts
    /// viewing.
    pub fn start(path: &Path) -> Result<Viewer> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    return Err(anyhow!("VNC {}: {e}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let mine = sock.try_clone().map_err(|e| anyhow!("VNC: {e}"))?;
        let thread = std::thread::spawn(move || view(mine));
        Ok(Viewer { sock, thread })
    }

    /// Disconnects; returns what the viewer saw, or why it stopped early.
    pub fn stop(self) -> Result<Seen> {
        let _ = self.sock.shutdown(Shutdown::Both);
        self.thread
            .join()
            .map_err(|_| anyhow!("VNC viewer panicked"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's side of the conversation: greeting, no-auth security, a 4x2 screen, one
    /// update of a raw 2x1 rectangle and a resize to 3x3, a bell, and the end.
    fn serve(mut s: UnixStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut take = |s: &mut UnixStream, n: usize| {
            let mut b = vec![0; n];
            s.read_exact(&mut b).unwrap();
            got.extend_from_slice(&b);
        };
        s.write_all(b"RFB 003.008\n").unwrap();
        take(&mut s, 12);
        s.write_all(&[1, 1]).unwrap();
        take(&mut s, 1);
        s.write_all(&[0, 0, 0, 0]).unwrap();
        take(&mut s, 1);
        let mut init = vec![
            0, 4, 0, 2, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
        ];
        init.extend_from_slice(&[0, 0, 0, 2]);
        init.extend_from_slice(b"vm");
        s.write_all(&init).unwrap();
        // SetEncodings (4 + 2 encodings) and the first update request.
        take(&mut s, 4 + 8 + 10);
        let mut upd = vec![0, 0, 0, 2];
        upd.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0]);
        upd.extend_from_slice(&[7; 8]);
        upd.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 3]);
        upd.extend_from_slice(&DESKTOP_SIZE.to_be_bytes());
        upd.push(2);
        s.write_all(&upd).unwrap();
        take(&mut s, 10);
        got
    }

    #[test]
    fn views_raw_updates() -> Result<()> {
        let (client, server) = UnixStream::pair().map_err(|e| anyhow!("{e}"))?;
        let srv = std::thread::spawn(move || serve(server));
        let seen = view(client)?;
        assert_eq!(
            seen,
            Seen {
                updates: 1,
                bytes: 8,
                resizes: 1
            }
        );
        let got = srv.join().map_err(|_| anyhow!("server panicked"))?;
        assert_eq!(&got[..12], b"RFB 003.008\n");
        // No authentication, shared, raw and DesktopSize.
        assert_eq!(got[12..14], [1, 1]);
        assert_eq!(got[14..18], [2, 0, 0, 2]);
        assert_eq!(got[22..26], DESKTOP_SIZE.to_be_bytes());
        // A full request for 4x2, then an incremental one for the new 3x3.
        assert_eq!(got[26..36], [3, 0, 0, 0, 0, 0, 0, 4, 0, 2]);
        assert_eq!(got[36..46], [3, 1, 0, 0, 0, 0, 0, 3, 0, 3]);
        Ok(())
    }

    #[test]
    fn refuses_authentication() {
        let (client, mut server) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || {
            server.write_all(b"RFB 003.008\n").unwrap();
            let mut b = [0; 12];
            server.read_exact(&mut b).unwrap();
            server.write_all(&[1, 2]).unwrap();
        });
        let e = view(client).unwrap_err().to_string();
        assert!(e.contains("authentication"), "{e}");
        srv.join().unwrap();
    }
}
