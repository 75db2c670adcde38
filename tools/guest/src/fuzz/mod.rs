// SPDX-License-Identifier: GPL-2.0
//! A seeded ioctl fuzzer for /dev/dri/card0: random and edge-case arguments for the KMS and GEM
//! ioctls a simple display driver exposes. The same seed gives the same call sequence, so a
//! failure reproduces with `rbguest fuzz SEED N`.
//!
//! The fuzzer itself only checks that every call returns (success or an errno); the host
//! checks the kernel log (KASAN, lockdep, WARN, oops) and kmemleak afterwards.

mod commit;
mod world;

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use anyhow::anyhow;
use drm_ffi::mode;
use drm_ffi::{drm_clip_rect, drm_mode_modeinfo};
use rbguest::Result;

use commit::plausible_commit;
use world::{Rng, World, FORMATS, MAX_KEPT};

/// Runs `n` random calls with `seed`; prints a summary line per ioctl and `FUZZ ...` at the end.
pub fn run(fd: BorrowedFd<'_>, seed: u64, n: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut w = World::discover(fd)?;
    rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::RDWR)
        .map_err(|e| anyhow!("O_NONBLOCK: {e}"))?;
    let mut stats: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    for i in 0..n {
        let (name, ok) = step(fd, &mut rng, &mut w);
        let e = stats.entry(name).or_default();
        if ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        if i % 64 == 0 {
            drain_events(fd);
        }
    }
    // Leave nothing behind: the host's leak check runs after us.
    for fb in w.fbs.drain(..) {
        let _ = mode::rm_fb(fd, fb.0);
    }
    for (h, ..) in w.dumbs.drain(..) {
        let _ = mode::dumbbuffer::destroy(fd, h);
    }
    for b in w.blobs.drain(..) {
        let _ = mode::destroy_property_blob(fd, b);
    }
    drain_events(fd);
    let (mut ok, mut err) = (0, 0);
    for (name, (o, e)) in &stats {
        println!("FUZZ-IOCTL {name}: {o} ok, {e} errors");
        ok += o;
        err += e;
    }
    println!("FUZZ seed={seed} calls={n} ok={ok} errors={err}");
    Ok(())
}

/// Reads and drops pending events (page flips, vblanks).
fn drain_events(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 4096];
    while matches!(rustix::io::read(fd, &mut buf), Ok(n) if n > 0) {}
}

/// One random call: its name and whether it succeeded.
fn step(fd: BorrowedFd<'_>, rng: &mut Rng, w: &mut World) -> (&'static str, bool) {
    match rng.below(16) {
        0 | 1 => {
            let (width, height) = (rng.dim(), rng.dim());
            let bpp = match rng.below(6) {
                0 => 8,
                1 => 16,
                2 => 24,
                3 | 4 => 32,
                _ => rng.edgy32(),
            };
            let flags = if rng.chance(90) { 0 } else { rng.edgy32() };
            // Keep memory bounded: at most 8 buffers held.
            if w.dumbs.len() >= 8 {
                if let Some((h, ..)) = w.dumbs.pop() {
                    return ("DESTROY_DUMB", mode::dumbbuffer::destroy(fd, h).is_ok());
                }
            }
            match mode::dumbbuffer::create(fd, width, height, bpp, flags) {
                Ok(d) if u64::from(d.pitch) * u64::from(height) > MAX_KEPT => {
                    // Made, but too big to keep: pinned for scanout, a few of these would
                    // exhaust the guest's memory, which is not what this run is about.
                    let _ = mode::dumbbuffer::destroy(fd, d.handle);
                    ("CREATE_DUMB", true)
                }
                Ok(d) => {
                    w.dumbs.push((d.handle, width, height, d.pitch));
                    ("CREATE_DUMB", true)
                }
                Err(_) => ("CREATE_DUMB", false),
            }
        }
        2 => {
            let handles: Vec<u32> = w.dumbs.iter().map(|d| d.0).collect();
            let h = w.id(rng, &handles);
            let ok = mode::dumbbuffer::destroy(fd, h).is_ok();
            w.dumbs.retain(|d| d.0 != h);
            ("DESTROY_DUMB", ok)
        }
        3 => {
            let handles: Vec<u32> = w.dumbs.iter().map(|d| d.0).collect();
            let h = w.id(rng, &handles);
            let Ok(m) = mode::dumbbuffer::map(fd, h, 0, 0) else {
                return ("MAP_DUMB", false);
            };
            let size = w
                .dumbs
                .iter()
                .find(|d| d.0 == h)
                .map_or(4096, |d| d.3 as u64 * d.2 as u64);
            let len = match rng.below(4) {
                0 => size,
                1 => size + 4096 * (1 + rng.below(64)),
                2 => 4096,
                _ => 1 + rng.below(64 << 20),
            } as usize;
            let offset = if rng.chance(80) {
                m.offset
            } else {
                m.offset + 4096 * rng.below(1024)
            };
            // A fresh shared mapping, unmapped right away; only its first byte is touched.
            match rbguest::SharedMap::new(fd, len, offset) {
                Ok(mut m) => {
                    if let Some(b) = m.as_mut_slice().first_mut() {
                        // SAFETY: `b` is a live byte of the mapping.
                        unsafe { std::ptr::write_volatile(b, 0x5a) };
                    }
                    ("MMAP", true)
                }
                Err(_) => ("MMAP", false),
            }
        }
        4 | 5 => {
            let d = rng.pick(&w.dumbs);
            let handle = match d {
                Some(d) if rng.chance(85) => d.0,
                _ => rng.edgy32(),
            };
            let (width, height, pitch) = match d {
                Some(d) if rng.chance(75) => {
                    // Usually the buffer's own geometry, sometimes a smaller view of it.
                    let shrink = |v: u32, rng: &mut Rng| {
                        if rng.chance(70) {
                            v
                        } else {
                            1 + rng.below(u64::from(v.max(1))) as u32
                        }
                    };
                    (shrink(d.1, rng), shrink(d.2, rng), d.3)
                }
                _ => (rng.dim(), rng.dim(), rng.edgy32()),
            };
            let fmt = match rng.below(10) {
                0..=4 => FORMATS[0],
                5 | 6 => FORMATS[1],
                7 | 8 => rng.pick(&FORMATS).unwrap_or(0),
                _ => rng.edgy32(),
            };
            let offset = if rng.chance(85) { 0 } else { rng.edgy32() };
            let flags = if rng.chance(90) { 0 } else { rng.edgy32() };
            let r = mode::add_fb2(
                fd,
                width,
                height,
                fmt,
                &[handle, 0, 0, 0],
                &[pitch, 0, 0, 0],
                &[offset, 0, 0, 0],
                &[0; 4],
                flags,
            );
            match r {
                Ok(fb) => {
                    w.fbs.push((fb.fb_id, width, height));
                    if w.fbs.len() > 8 {
                        let old = w.fbs.remove(0);
                        let _ = mode::rm_fb(fd, old.0);
                    }
                    ("ADDFB2", true)
                }
                Err(_) => ("ADDFB2", false),
            }
        }
        6 => {
            let fb = w.fb(rng);
            let ok = mode::rm_fb(fd, fb).is_ok();
            w.fbs.retain(|f| f.0 != fb);
            ("RMFB", ok)
        }
        7 => {
            let mut data: Vec<u8> = if rng.chance(60) {
                // Damage clips: whole `drm_mode_rect`s, in and out of any framebuffer.
                (0..rng.below(9))
                    .flat_map(|_| [rng.coord(), rng.coord(), rng.coord(), rng.coord()])
                    .flat_map(i32::to_ne_bytes)
                    .collect()
            } else if rng.chance(50) {
                // A mode.
                let m = w.mode(rng);
                // SAFETY: `drm_mode_modeinfo` is plain old data.
                unsafe {
                    std::slice::from_raw_parts(
                        (&m as *const drm_mode_modeinfo).cast::<u8>(),
                        std::mem::size_of::<drm_mode_modeinfo>(),
                    )
                }
                .to_vec()
            } else {
                (0..rng.below(512)).map(|_| rng.next() as u8).collect()
            };
            match mode::create_property_blob(fd, &mut data) {
                Ok(b) => {
                    w.blobs.push(b.blob_id);
                    if w.blobs.len() > 32 {
                        let old = w.blobs.remove(0);
                        let _ = mode::destroy_property_blob(fd, old);
                    }
                    ("CREATEPROPBLOB", true)
                }
                Err(_) => ("CREATEPROPBLOB", false),
            }
        }
        14 | 15 => ("ATOMIC-PLANE", plausible_commit(fd, rng, w)),
        8 | 9 => {
            // An atomic commit with a random set of properties on random objects.
            let mut objs = Vec::new();
            let mut counts = Vec::new();
            let mut props = Vec::new();
            let mut values = Vec::new();
            for _ in 0..=rng.below(3) {
                let Some(i) = rng.pick(&(0..w.props.len()).collect::<Vec<_>>()) else {
                    break;
                };
                let (id, _, ref ids) = w.props[i];
                let obj = if rng.chance(95) { id } else { rng.edgy32() };
                let k = 1 + rng.below(5);
                objs.push(obj);
                counts.push(k as u32);
                for _ in 0..k {
                    let p = match rng.pick(ids) {
                        Some(p) if rng.chance(95) => p,
                        _ => rng.edgy32(),
                    };
                    props.push(p);
                    values.push(w.value(rng));
                }
            }
            // TEST_ONLY, NONBLOCK, ALLOW_MODESET, PAGE_FLIP_EVENT, and sometimes junk.
            let mut flags = 0;
            for f in [0x0100, 0x0200, 0x0400, 0x01] {
                if rng.chance(35) {
                    flags |= f;
                }
            }
            if rng.chance(3) {
                flags |= rng.edgy32();
            }
            let r = mode::atomic_commit(fd, flags, &mut objs, &mut counts, &mut props, &mut values);
            ("ATOMIC", r.is_ok())
        }
        10 => {
            let crtc = w.id(rng, &w.crtcs);
            let conns: Vec<u32> = if rng.chance(85) {
                w.connectors.clone()
            } else {
                (0..rng.below(3)).map(|_| rng.edgy32()).collect()
            };
            let fb = w.fb(rng);
            let (x, y) = if rng.chance(80) {
                (0, 0)
            } else {
                (rng.edgy32(), rng.edgy32())
            };
            let m = rng.chance(85).then(|| w.mode(rng));
            let conns = if fb == 0 { &[][..] } else { &conns[..] };
            (
                "SETCRTC",
                mode::set_crtc(fd, crtc, fb, x, y, conns, m).is_ok(),
            )
        }
        11 => {
            let crtc = w.id(rng, &w.crtcs);
            let fb = w.fb(rng);
            let flags = match rng.below(4) {
                0 => 0,
                1 => 1,     // PAGE_FLIP_EVENT
                2 => 1 | 2, // with ASYNC
                _ => rng.edgy32(),
            };
            ("PAGE_FLIP", mode::page_flip(fd, crtc, fb, flags, 0).is_ok())
        }
        12 => {
            let fb = w.fb(rng);
            let clips: Vec<drm_clip_rect> = (0..rng.below(10))
                .map(|_| drm_clip_rect {
                    x1: rng.edgy32() as u16 % 2400,
                    y1: rng.edgy32() as u16 % 2400,
                    x2: if rng.chance(80) {
                        rng.below(2400) as u16
                    } else {
                        rng.edgy32() as u16
                    },
                    y2: if rng.chance(80) {
                        rng.below(2400) as u16
                    } else {
                        rng.edgy32() as u16
                    },
                })
                .collect();
            ("DIRTYFB", mode::dirty_fb(fd, fb, &clips).is_ok())
        }
        _ => {
            // Reads and legacy property writes.
            match rng.below(4) {
                0 => {
                    let c = w.id(rng, &w.connectors);
                    let mut m = Vec::new();
                    let probe = rng.chance(20);
                    let r = mode::get_connector(fd, c, None, None, Some(&mut m), None, probe);
                    ("GETCONNECTOR", r.is_ok())
                }
                1 => ("GETCRTC", mode::get_crtc(fd, w.id(rng, &w.crtcs)).is_ok()),
                2 => {
                    let p = w.id(rng, &w.planes);
                    ("GETPLANE", mode::get_plane(fd, p, None).is_ok())
                }
                _ => {
                    let Some((id, ty, ids)) = rng
                        .pick(&(0..w.props.len()).collect::<Vec<_>>())
                        .map(|i| w.props[i].clone())
                    else {
                        return ("SETPROPERTY", false);
                    };
                    let p = rng.pick(&ids).unwrap_or(0);
                    let v = w.value(rng);
                    ("SETPROPERTY", mode::set_property(fd, p, id, ty, v).is_ok())
                }
            }
        }
    }
}
