// SPDX-License-Identifier: GPL-2.0
//! Atomic commits that are nearly right: real objects and properties with one thing off.

use std::os::fd::BorrowedFd;

use drm_ffi::drm_mode_modeinfo;
use drm_ffi::mode;

use super::world::{Rng, World, OBJ_CONNECTOR, OBJ_CRTC, OBJ_PLANE};

/// A commit a compositor could make: a framebuffer on the primary plane at the mode's size,
/// with damage clips (valid or not) and now and then a mode change; its values are slightly
/// off now and then.
pub fn plausible_commit(fd: BorrowedFd<'_>, rng: &mut Rng, w: &mut World) -> bool {
    let (Some(plane), Some(crtc), Some(&(fb, fw, fh))) = (
        w.planes.first().copied(),
        w.crtcs.first().copied(),
        w.fbs.get(rng.below(w.fbs.len().max(1) as u64) as usize),
    ) else {
        return false;
    };
    let mut props: Vec<(u32, u32, u64)> = Vec::new(); // object, property, value
    let mut new_blobs = Vec::new();
    let mut set = |obj: u32, ty: u32, name: &str, v: u64, rng: &mut Rng| {
        if let Some(p) = w.prop(ty, name) {
            let v = if rng.chance(5) { rng.next() } else { v };
            props.push((obj, p, v));
        }
    };
    let (mw, mh) = w
        .modes
        .first()
        .map_or((fw, fh), |m| (u32::from(m.hdisplay), u32::from(m.vdisplay)));
    let (cw, ch) = (fw.min(mw), fh.min(mh));
    set(plane, OBJ_PLANE, "FB_ID", u64::from(fb), rng);
    set(plane, OBJ_PLANE, "CRTC_ID", u64::from(crtc), rng);
    set(plane, OBJ_PLANE, "SRC_X", 0, rng);
    set(plane, OBJ_PLANE, "SRC_Y", 0, rng);
    set(plane, OBJ_PLANE, "SRC_W", u64::from(cw) << 16, rng);
    set(plane, OBJ_PLANE, "SRC_H", u64::from(ch) << 16, rng);
    set(plane, OBJ_PLANE, "CRTC_X", 0, rng);
    set(plane, OBJ_PLANE, "CRTC_Y", 0, rng);
    set(plane, OBJ_PLANE, "CRTC_W", u64::from(cw), rng);
    set(plane, OBJ_PLANE, "CRTC_H", u64::from(ch), rng);
    if rng.chance(70) {
        let mut clips: Vec<u8> = (0..=rng.below(6))
            .flat_map(|_| {
                let x = rng.below(u64::from(fw)) as i32;
                let y = rng.below(u64::from(fh)) as i32;
                let x2 = x + 1 + rng.below(u64::from(fw) - x as u64) as i32;
                let y2 = y + 1 + rng.below(u64::from(fh) - y as u64) as i32;
                if rng.chance(90) {
                    [x, y, x2, y2]
                } else {
                    [rng.coord(), rng.coord(), rng.coord(), rng.coord()]
                }
            })
            .flat_map(i32::to_ne_bytes)
            .collect();
        if let Ok(b) = mode::create_property_blob(fd, &mut clips) {
            new_blobs.push(b.blob_id);
            set(
                plane,
                OBJ_PLANE,
                "FB_DAMAGE_CLIPS",
                u64::from(b.blob_id),
                rng,
            );
        }
    }
    // NONBLOCK and PAGE_FLIP_EVENT, each now and then.
    let mut flags = 0;
    if rng.chance(30) {
        flags |= 0x0200;
    }
    if rng.chance(30) {
        flags |= 0x01;
    }
    if rng.chance(15) {
        // A modeset to one of the connector's modes.
        if let Some(m) = rng.pick(&w.modes) {
            // SAFETY: `drm_mode_modeinfo` is plain old data.
            let mut bytes = unsafe {
                std::slice::from_raw_parts(
                    (&m as *const drm_mode_modeinfo).cast::<u8>(),
                    std::mem::size_of::<drm_mode_modeinfo>(),
                )
            }
            .to_vec();
            if let Ok(b) = mode::create_property_blob(fd, &mut bytes) {
                new_blobs.push(b.blob_id);
                set(crtc, OBJ_CRTC, "MODE_ID", u64::from(b.blob_id), rng);
                set(crtc, OBJ_CRTC, "ACTIVE", 1, rng);
                if let Some(&c) = w.connectors.first() {
                    set(c, OBJ_CONNECTOR, "CRTC_ID", u64::from(crtc), rng);
                }
                flags |= 0x0400;
            }
        }
    }
    if rng.chance(10) {
        flags |= 0x0100; // TEST_ONLY
    }
    let mut objs = Vec::new();
    let mut counts = Vec::new();
    let mut ids = Vec::new();
    let mut values = Vec::new();
    for (obj, p, v) in &props {
        if objs.last() != Some(obj) {
            objs.push(*obj);
            counts.push(0);
        }
        *counts.last_mut().expect("pushed above") += 1;
        ids.push(*p);
        values.push(*v);
    }
    let ok = mode::atomic_commit(fd, flags, &mut objs, &mut counts, &mut ids, &mut values).is_ok();
    w.blobs.extend(new_blobs);
    while w.blobs.len() > 32 {
        let old = w.blobs.remove(0);
        let _ = mode::destroy_property_blob(fd, old);
    }
    ok
}
