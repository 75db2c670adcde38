// SPDX-License-Identifier: GPL-2.0
//! `rbguest badinput`: bad requests and what the driver must say to each, one `CHECK` line
//! per request.

use std::os::fd::AsFd;

use anyhow::anyhow;
use drm::buffer::Buffer;
use drm::control::{Device as ControlDevice, FbCmd2Flags, Mode};
use drm_fourcc::DrmFourcc;
use rbguest::{
    buffer, commit_damage, driver_counter, pipe, Card, DamageRect, Result, SharedMap, Strided,
};

/// How a driver met one bad request: `Ok` with what it did when that was right (refused, or
/// coped), `Err` with what was wrong.
type Verdict = std::result::Result<String, String>;

/// Prints one bad-input check: ok when the driver refused (or coped) as it should.
fn check(name: &str, r: Verdict) {
    match r {
        Ok(detail) => println!("CHECK {name}: ok ({detail})"),
        Err(detail) => println!("CHECK {name}: FAIL {detail}"),
    }
}

fn refused<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Verdict {
    match r {
        Ok(_) => Err("accepted".into()),
        Err(e) => Ok(format!("refused: {e}")),
    }
}

/// A damaged commit, made twice, that must either be refused or copy exactly `bytes` the
/// second time (when the driver reports what it copied): after the first, every frame of a
/// driver that flips between frames lacks at most this damage.
fn clipped(mut commit: impl FnMut() -> Result<()>, bytes: u64) -> Verdict {
    if let Err(e) = commit() {
        return Ok(format!("refused: {e}"));
    }
    let want = bytes;
    match (commit(), driver_counter("last_bytes")) {
        (Err(e), _) => Err(format!("accepted once, then refused: {e}")),
        (Ok(()), Some(n)) if n == want => Ok(format!("copied {n} bytes")),
        (Ok(()), Some(n)) => Err(format!("copied {n} bytes, want {want}")),
        (Ok(()), None) => Ok("committed".into()),
    }
}

/// Whether framebuffer `id` is gone from DRM's list of framebuffers (debugfs), waiting up to
/// a second for the commit that let go of it.
fn framebuffer_freed(id: u32) -> Verdict {
    let tag = format!("framebuffer[{id}]:");
    let listed = || -> std::result::Result<bool, String> {
        let dirs = std::fs::read_dir("/sys/kernel/debug/dri")
            .map_err(|e| format!("/sys/kernel/debug/dri: {e}"))?;
        let lists: Vec<String> = dirs
            .flatten()
            .filter_map(|d| std::fs::read_to_string(d.path().join("framebuffer")).ok())
            .collect();
        if lists.is_empty() {
            return Err("no framebuffer list in debugfs".into());
        }
        Ok(lists.iter().any(|l| l.lines().any(|x| x.trim() == tag)))
    };
    for _ in 0..20 {
        if !listed()? {
            return Ok(format!("framebuffer {id} freed"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("framebuffer {id} still exists 1 s after RMFB"))
}

/// Bad requests and what the driver must say. With `skip_unpaceable`, the checks of what the
/// device cannot scan out or pace are left out: Linux 7.3's C bochs accepts a framebuffer
/// larger than video memory, and a mode too slow for the vblank timer, which then warns on
/// every commit; the tests run them on rbochs.
pub fn badinput(card: &Card, skip_unpaceable: bool) -> Result<()> {
    use drm_ffi::mode::dumbbuffer;
    let fd = card.as_fd();
    check(
        "dumb-too-large",
        refused(dumbbuffer::create(fd, 100_000, 100_000, 32, 0)),
    );
    check(
        "dumb-size-overflow",
        refused(dumbbuffer::create(fd, 0x4000_0000, 8, 32, 0)),
    );
    check(
        "dumb-bpp-overflow",
        refused(dumbbuffer::create(fd, 1024, 768, 0xffff_fff0, 0)),
    );
    check("dumb-zero", refused(dumbbuffer::create(fd, 0, 0, 32, 0)));

    let p = pipe(card, "1024x768")?;
    // A framebuffer whose pitch times height exceeds video memory (16 MiB by default).
    let wide = card
        .create_dumb_buffer((8192, 768), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| anyhow!("CREATE_DUMB 8192x768: {e}"))?;
    let strided = Strided {
        size: (1024, 768),
        pitch: wide.pitch(),
        handle: wide.handle(),
        format: DrmFourcc::Xrgb8888,
    };
    let fb = card
        .add_planar_framebuffer(&strided, FbCmd2Flags::empty())
        .map_err(|e| anyhow!("ADDFB2 with pitch {}: {e}", wide.pitch()))?;
    if !skip_unpaceable {
        check(
            "fb-larger-than-vram",
            refused(card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))),
        );
    }
    let _ = card.destroy_framebuffer(fb);

    // mmap past the end of a dumb buffer.
    let len = (wide.pitch() * 768) as usize + (1 << 20);
    let map =
        dumbbuffer::map(fd, wide.handle().into(), 0, 0).map_err(|e| anyhow!("MAP_DUMB: {e}"))?;
    check(
        "mmap-past-object",
        match SharedMap::new(fd, len, map.offset) {
            Ok(_) => Err("mapped".into()),
            Err(e) => Ok(format!("refused: {e}")),
        },
    );
    card.destroy_dumb_buffer(wide)
        .map_err(|e| anyhow!("DESTROY_DUMB: {e}"))?;

    // A mode refreshing once a second: the vblank timer cannot pace it within the 100 ms the
    // atomic helpers wait for a vblank, so it must be refused, not set.
    let mut slow: drm_ffi::drm_mode_modeinfo = p.mode.into();
    slow.clock = (u32::from(slow.htotal) * u32::from(slow.vtotal))
        .div_ceil(1000)
        .max(1);
    slow.vrefresh = 1;
    let (sdb, sfb) = buffer(card, &p, 5)?;
    if !skip_unpaceable {
        check(
            "mode-refresh-too-low",
            refused(card.set_crtc(p.crtc, Some(sfb), (0, 0), &[p.conn], Some(Mode::from(slow)))),
        );
    }
    // A double-scanned mode whose nominal refresh rate is 60 Hz, but whose doubled frame
    // (40000 x 60000 pixel clocks) overflows the `int` in which the kernel computes the
    // vblank timer's period: the timer would get a bogus one, so it must be refused.
    let mut huge: drm_ffi::drm_mode_modeinfo = p.mode.into();
    huge.htotal = 40000;
    huge.vtotal = 30000;
    huge.clock = 144_000_000;
    huge.flags |= drm_ffi::DRM_MODE_FLAG_DBLSCAN;
    if !skip_unpaceable {
        check(
            "mode-timer-overflow",
            refused(card.set_crtc(p.crtc, Some(sfb), (0, 0), &[p.conn], Some(Mode::from(huge)))),
        );
    }
    let _ = card.destroy_framebuffer(sfb);
    let _ = card.destroy_dumb_buffer(sdb);

    // A mode larger than video memory.
    let mut raw: drm_ffi::drm_mode_modeinfo = p.mode.into();
    (raw.hdisplay, raw.hsync_start, raw.hsync_end, raw.htotal) = (8192, 8200, 8300, 8400);
    (raw.vdisplay, raw.vsync_start, raw.vsync_end, raw.vtotal) = (8192, 8195, 8198, 8200);
    let (db, fb) = buffer(card, &p, 3)?;
    check(
        "mode-larger-than-vram",
        refused(card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(Mode::from(raw)))),
    );

    // Damage clips outside the framebuffer: the atomic core refuses them.
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC: {e}"))?;
    let rect = |x1, y1, x2, y2| DamageRect { x1, y1, x2, y2 };
    // Malformed clips (negative, inverted) are refused by the atomic core.
    for (name, clip) in [
        ("damage-negative", rect(-100, -100, 50, 50)),
        ("damage-inverted", rect(700, 700, 600, 600)),
    ] {
        check(name, refused(commit_damage(card, &p, fb, &[clip])));
    }
    // Clips beyond the framebuffer's edge: Linux 7.3's core compares them with the
    // framebuffer size in 16.16 fixed point, so it lets them through; the driver must then
    // copy only what lies on screen. Refusing them would be fine too.
    for (name, clip, on_screen) in [
        ("damage-outside-fb", rect(2000, 2000, 3000, 3000), 0),
        ("damage-past-edge", rect(1000, 700, 1100, 800), 24 * 68 * 4),
    ] {
        check(
            name,
            clipped(|| commit_damage(card, &p, fb, &[clip]), on_screen),
        );
    }
    let _ = card.destroy_framebuffer(fb);
    card.destroy_dumb_buffer(db)
        .map_err(|e| anyhow!("DESTROY_DUMB: {e}"))?;

    // Framebuffers userspace removes are freed, not held by the driver: one that another has
    // replaced on screen, then the one on screen (which takes the plane off).
    let (adb, afb) = buffer(card, &p, 6)?;
    let (bdb, bfb) = buffer(card, &p, 7)?;
    for fb in [afb, bfb] {
        card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
            .map_err(|e| anyhow!("SETCRTC: {e}"))?;
    }
    for (name, fb) in [("rmfb-replaced-freed", afb), ("rmfb-shown-freed", bfb)] {
        check(
            name,
            match card.destroy_framebuffer(fb) {
                Err(e) => Err(format!("RMFB: {e}")),
                Ok(()) => framebuffer_freed(u32::from(fb)),
            },
        );
    }
    let _ = card.destroy_dumb_buffer(adb);
    let _ = card.destroy_dumb_buffer(bdb);

    // Damage inside the framebuffer but outside what the plane shows is clipped to the
    // plane's source rectangle: a 1024x768 framebuffer scanned out at 640x480.
    let small = pipe(card, "640x480")?;
    let (db, fb) = buffer(card, &p, 4)?;
    card.set_crtc(
        small.crtc,
        Some(fb),
        (0, 0),
        &[small.conn],
        Some(small.mode),
    )
    .map_err(|e| anyhow!("SETCRTC 640x480: {e}"))?;
    let clips = [rect(700, 500, 800, 600), rect(600, 400, 700, 500)];
    // Only (600,400)-(640,480) of the second clip is on screen.
    check(
        "damage-outside-src",
        clipped(|| commit_damage(card, &small, fb, &clips), 40 * 80 * 4),
    );
    let _ = card.destroy_framebuffer(fb);
    card.destroy_dumb_buffer(db)
        .map_err(|e| anyhow!("DESTROY_DUMB: {e}"))?;
    Ok(())
}
