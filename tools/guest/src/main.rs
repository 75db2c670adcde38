// SPDX-License-Identifier: GPL-2.0
//! In-guest test program: talks KMS to `/dev/dri/card0` and reports on stdout
//! in line-oriented form that the host side (`vmtest`) parses.
//!
//! ```text
//! rbguest info            driver, connectors and their modes
//! rbguest show WxH SEED [FORMAT]
//!                         scan out pattern SEED at mode WxH, print @@READY,
//!                         keep it on screen until a line arrives on stdin;
//!                         FORMAT (xrgb8888, argb8888, bgrx8888, bgra8888): a
//!                         framebuffer of that format (ADDFB2), its X or alpha
//!                         byte varying from pixel to pixel
//! rbguest damage WxH A B X Y W H atomic|dirtyfb
//!                         show pattern A, redraw the whole buffer with B, then
//!                         report only rectangle X,Y,W,H as damaged; @@READY
//! rbguest offon WxH A B  show pattern A, turn the CRTC off in an atomic commit
//!                         that leaves the framebuffer on the plane, draw B into
//!                         it, turn the CRTC on again; @@READY (B must show)
//! rbguest noplane WxH A lit|modeset|back
//!                         show pattern A, then light the CRTC without a plane:
//!                         take the plane off (lit) or turn everything off and the
//!                         CRTC on alone (modeset); @@READY (black must show);
//!                         back: take the plane off, put it back damaging one
//!                         pixel; @@READY (A must show whole)
//! rbguest hold WxH SEED SECS
//!                         show SEED, print @@HOLDING, keep the buffer mapped and
//!                         the card open for SECS seconds, then clean up
//! rbguest badinput [--c-bochs]
//!                         feed the driver bad requests; one CHECK line each
//!                         (--c-bochs: leave out the requests Linux's C bochs
//!                         driver is known to mishandle, see the checks)
//! ```

use std::io::BufRead;
use std::os::fd::AsFd;
use std::process::ExitCode;

use drm::buffer::{Buffer, PlanarBuffer};
use drm::control::{
    atomic::AtomicModeReq, dumbbuffer::DumbBuffer, framebuffer, property, AtomicCommitFlags,
    ClipRect, Device as ControlDevice, FbCmd2Flags, Mode, ModeTypeFlags,
};
use drm::{ClientCapability, Device};
use drm_fourcc::DrmFourcc;

use rbguest::{
    buffer, commit_damage, draw, driver_counter, driver_state, mode_name, pipe, primary_plane,
    Card, DamageRect, Pipe, Result, SharedMap,
};

mod fuzz;

fn info(card: &Card) -> Result<()> {
    let drv = card.get_driver().map_err(|e| format!("VERSION: {e}"))?;
    println!("driver {}", drv.name().to_string_lossy());
    for conn in card.connectors()? {
        println!(
            "connector {} {:?}-{} {:?}",
            u32::from(conn.handle()),
            conn.interface(),
            conn.interface_id(),
            conn.state()
        );
        for m in conn.modes() {
            let pref = if m.mode_type().contains(ModeTypeFlags::PREFERRED) {
                " preferred"
            } else {
                ""
            };
            println!("mode {} {}{pref}", mode_name(m), m.vrefresh());
        }
    }
    Ok(())
}

/// Prints the driver's debugfs state, if it has one, as `STATE key: value` lines.
fn print_state() {
    if let Some(st) = driver_state() {
        for l in st.lines() {
            println!("STATE {l}");
        }
    }
}

fn wait_for_host() {
    println!("@@READY");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// A pattern seed from the command line.
fn parse_seed(seed: &str) -> Result<u32> {
    seed.parse().map_err(|e| format!("bad seed '{seed}': {e}"))
}

fn show(card: &Card, size: &str, seed: &str) -> Result<()> {
    let p = pipe(card, size)?;
    let (db, fb) = buffer(card, &p, parse_seed(seed)?)?;
    show_until_host(card, &p, db, fb)
}

/// Sets `p`'s mode with `fb` on screen, keeps it there until the host says, then frees `fb`
/// and its buffer `db`.
fn show_until_host(card: &Card, p: &Pipe, db: DumbBuffer, fb: framebuffer::Handle) -> Result<()> {
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| format!("SETCRTC {}: {e}", mode_name(&p.mode)))?;
    hold_until_host(card, db, fb)
}

/// Waits for the host's word, then frees `fb` and its buffer `db`.
fn hold_until_host(card: &Card, db: DumbBuffer, fb: framebuffer::Handle) -> Result<()> {
    wait_for_host();
    card.destroy_framebuffer(fb)
        .map_err(|e| format!("RMFB: {e}"))?;
    card.destroy_dumb_buffer(db)
        .map_err(|e| format!("DESTROY_DUMB: {e}"))?;
    Ok(())
}

/// The formats `show` draws in: name, fourcc, and whether a pixel is stored as a big-endian
/// word (BGRX8888, B:G:R:X in a little-endian word, is X:R:G:B in a big-endian one).
const FORMATS: [(&str, DrmFourcc, bool); 4] = [
    ("xrgb8888", DrmFourcc::Xrgb8888, false),
    ("argb8888", DrmFourcc::Argb8888, false),
    ("bgrx8888", DrmFourcc::Bgrx8888, true),
    ("bgra8888", DrmFourcc::Bgra8888, true),
];

/// Like `show`, in framebuffer format `format`. The top byte of each pixel (X or alpha)
/// varies, so the screen shows the pattern only if the device takes the colour channels
/// from the right bytes and ignores that one.
fn show_format(card: &Card, size: &str, seed: &str, format: &str) -> Result<()> {
    let seed = parse_seed(seed)?;
    let &(_, fourcc, big) = FORMATS
        .iter()
        .find(|f| f.0 == format)
        .ok_or_else(|| format!("unknown format '{format}'"))?;
    let p = pipe(card, size)?;
    let (w, h) = p.mode.size();
    let mut db = card
        .create_dumb_buffer((w.into(), h.into()), fourcc, 32)
        .map_err(|e| format!("CREATE_DUMB {w}x{h}: {e}"))?;
    let pitch = db.pitch() as usize;
    {
        let mut map = card
            .map_dumb_buffer(&mut db)
            .map_err(|e| format!("MAP_DUMB: {e}"))?;
        for y in 0..u32::from(h) {
            let row = &mut map[y as usize * pitch..][..usize::from(w) * 4];
            for (x, px) in (0u32..).zip(row.chunks_exact_mut(4)) {
                let top = (x ^ y.wrapping_mul(3)) & 0xff;
                let v = rbguest::pattern::pixel(seed, x, y) | top << 24;
                px.copy_from_slice(&if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
        }
    }
    let fb_of = Strided {
        size: (w.into(), h.into()),
        pitch: db.pitch(),
        handle: db.handle(),
        format: fourcc,
    };
    let fb = card
        .add_planar_framebuffer(&fb_of, FbCmd2Flags::empty())
        .map_err(|e| format!("ADDFB2 {format}: {e}"))?;
    show_until_host(card, &p, db, fb)
}

/// Adds to `req` what turns `p`'s CRTC on with mode blob `mode`, or off (`None`), with
/// `p`'s connector on it or on nothing.
fn crtc_on_off(card: &Card, p: &Pipe, req: &mut AtomicModeReq, mode: Option<u64>) -> Result<()> {
    let crtc = rbguest::Props::of(card, p.crtc)?;
    let conn = rbguest::Props::of(card, p.conn)?;
    req.add_property(
        p.crtc,
        crtc.get("ACTIVE")?,
        property::Value::Boolean(mode.is_some()),
    );
    req.add_property(
        p.crtc,
        crtc.get("MODE_ID")?,
        property::Value::Unknown(mode.unwrap_or(0)),
    );
    req.add_property(
        p.conn,
        conn.get("CRTC_ID")?,
        property::Value::CRTC(mode.map(|_| p.crtc)),
    );
    Ok(())
}

/// Commits `req`, allowing a modeset; `what` names it in the error.
fn commit_modeset(card: &Card, req: AtomicModeReq, what: &str) -> Result<()> {
    card.atomic_commit(AtomicCommitFlags::ALLOW_MODESET, req)
        .map_err(|e| format!("ATOMIC {what}: {e}"))
}

/// Turns `p`'s CRTC on again in `p`'s mode, adding nothing else to the commit.
fn crtc_on(card: &Card, p: &Pipe) -> Result<()> {
    let blob = card
        .create_property_blob(&p.mode)
        .map_err(|e| format!("CREATEPROPBLOB mode: {e}"))?;
    let property::Value::Blob(id) = blob else {
        return Err(format!("CREATEPROPBLOB gave {blob:?}"));
    };
    let mut req = AtomicModeReq::new();
    let on = crtc_on_off(card, p, &mut req, Some(id))
        .and_then(|()| commit_modeset(card, req, "CRTC on again"));
    let _ = card.destroy_property_blob(id);
    on
}

/// Shows pattern `seed` at mode `size` with a legacy SETCRTC, then makes the client atomic
/// (the atomic properties show only to atomic clients).
fn show_then_atomic(
    card: &Card,
    size: &str,
    seed: u32,
) -> Result<(Pipe, DumbBuffer, framebuffer::Handle)> {
    let p = pipe(card, size)?;
    let (db, fb) = buffer(card, &p, seed)?;
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| format!("SETCRTC {size}: {e}"))?;
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| format!("SET_CLIENT_CAP atomic: {e}"))?;
    Ok((p, db, fb))
}

/// Shows pattern `a`, turns the CRTC off with an atomic commit that leaves the framebuffer
/// on the primary plane, draws pattern `b` into the framebuffer while the CRTC is off (no
/// damage reported), and turns the CRTC on again without touching the plane: the screen
/// must show `b`, all of it.
fn off_on(card: &Card, size: &str, a: &str, b: &str) -> Result<()> {
    let b = parse_seed(b)?;
    let (p, mut db, fb) = show_then_atomic(card, size, parse_seed(a)?)?;
    let mut req = AtomicModeReq::new();
    crtc_on_off(card, &p, &mut req, None)?;
    commit_modeset(card, req, "off, framebuffer left on the plane")?;
    draw(card, &mut db, b)?;
    crtc_on(card, &p)?;
    hold_until_host(card, db, fb)
}

/// Shows pattern `a`, then lights the CRTC with no plane: `lit` takes the plane off while
/// the CRTC stays on; `modeset` turns CRTC and plane off, then the CRTC on again alone. The
/// screen must be black; @@READY. `back` takes the plane off like `lit`, then puts it back
/// with the same framebuffer and one damaged pixel: `a` must show, all of it.
fn no_plane(card: &Card, size: &str, a: &str, how: &str) -> Result<()> {
    let (p, db, fb) = show_then_atomic(card, size, parse_seed(a)?)?;
    let (plane, props) = primary_plane(card, &p)?;
    let mut req = AtomicModeReq::new();
    req.add_property(
        plane,
        props.get("FB_ID")?,
        property::Value::Framebuffer(None),
    );
    req.add_property(plane, props.get("CRTC_ID")?, property::Value::CRTC(None));
    match how {
        "lit" | "back" => card
            .atomic_commit(AtomicCommitFlags::empty(), req)
            .map_err(|e| format!("ATOMIC plane off, CRTC on: {e}"))?,
        "modeset" => {
            crtc_on_off(card, &p, &mut req, None)?;
            commit_modeset(card, req, "CRTC and plane off")?;
            crtc_on(card, &p)?;
        }
        _ => return Err(format!("noplane: '{how}' is not lit, modeset or back")),
    }
    if how == "back" {
        let pixel = DamageRect {
            x1: 0,
            y1: 0,
            x2: 1,
            y2: 1,
        };
        commit_damage(card, &p, fb, &[pixel])?;
    }
    hold_until_host(card, db, fb)
}

fn damage(card: &Card, a: &[&str]) -> Result<()> {
    let [size, sa, sb, x, y, w, h, how] = a else {
        return Err("usage: damage WxH A B X Y W H atomic|dirtyfb".into());
    };
    let num = |v: &str| {
        v.parse::<u32>()
            .map_err(|e| format!("bad number '{v}': {e}"))
    };
    let (sa, sb, x, y, w, h) = (num(sa)?, num(sb)?, num(x)?, num(y)?, num(w)?, num(h)?);
    let p = pipe(card, size)?;
    let (mut db, fb) = buffer(card, &p, sa)?;
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| format!("SETCRTC {size}: {e}"))?;
    // Everything changes in memory; only one rectangle is reported.
    draw(card, &mut db, sb)?;
    match *how {
        "atomic" => {
            let r = DamageRect {
                x1: x as i32,
                y1: y as i32,
                x2: (x + w) as i32,
                y2: (y + h) as i32,
            };
            commit_damage(card, &p, fb, &[r])?
        }
        "dirtyfb" => {
            let c = |v: u32| u16::try_from(v).map_err(|_| format!("{v} too large for DIRTYFB"));
            let clip = ClipRect::new(c(x)?, c(y)?, c(x + w)?, c(y + h)?);
            card.dirty_framebuffer(fb, &[clip])
                .map_err(|e| format!("DIRTYFB: {e}"))?
        }
        _ => return Err(format!("unknown damage path '{how}'")),
    }
    print_state();
    wait_for_host();
    card.destroy_framebuffer(fb)
        .map_err(|e| format!("RMFB: {e}"))?;
    card.destroy_dumb_buffer(db)
        .map_err(|e| format!("DESTROY_DUMB: {e}"))?;
    Ok(())
}

/// Flips between two framebuffers `n` times with page-flip events, printing each event
/// (`FLIP sequence seconds.micros`) and then `FLIPS count`.
fn flip(card: &Card, size: &str, n: &str) -> Result<()> {
    let n: u32 = n.parse().map_err(|e| format!("bad count '{n}': {e}"))?;
    let p = pipe(card, size)?;
    let (db_a, fb_a) = buffer(card, &p, 41)?;
    let (db_b, fb_b) = buffer(card, &p, 42)?;
    card.set_crtc(p.crtc, Some(fb_a), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| format!("SETCRTC {size}: {e}"))?;
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| format!("SET_CLIENT_CAP atomic: {e}"))?;
    let (plane, props) = primary_plane(card, &p)?;
    let fb_id = props.get("FB_ID")?;
    let mut got = 0;
    for i in 0..n {
        let fb = if i % 2 == 0 { fb_b } else { fb_a };
        let mut req = AtomicModeReq::new();
        req.add_property(plane, fb_id, property::Value::Framebuffer(Some(fb)));
        card.atomic_commit(
            AtomicCommitFlags::PAGE_FLIP_EVENT | AtomicCommitFlags::NONBLOCK,
            req,
        )
        .map_err(|e| format!("ATOMIC page flip {i}: {e}"))?;
        // Blocks until the event for this flip arrives.
        let events = card
            .receive_events()
            .map_err(|e| format!("reading events: {e}"))?;
        for ev in events {
            if let drm::control::Event::PageFlip(f) = ev {
                got += 1;
                println!(
                    "FLIP {} {}.{:06}",
                    f.frame,
                    f.duration.as_secs(),
                    f.duration.subsec_micros()
                );
            }
        }
    }
    println!("FLIPS {got}");
    for (db, fb) in [(db_a, fb_a), (db_b, fb_b)] {
        card.destroy_framebuffer(fb)
            .map_err(|e| format!("RMFB: {e}"))?;
        card.destroy_dumb_buffer(db)
            .map_err(|e| format!("DESTROY_DUMB: {e}"))?;
    }
    Ok(())
}

/// A framebuffer over an existing dumb buffer with a chosen size, pitch and format.
struct Strided {
    size: (u32, u32),
    pitch: u32,
    handle: drm::buffer::Handle,
    format: DrmFourcc,
}

impl PlanarBuffer for Strided {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> DrmFourcc {
        self.format
    }
    fn modifier(&self) -> Option<drm::buffer::DrmModifier> {
        None
    }
    fn pitches(&self) -> [u32; 4] {
        [self.pitch, 0, 0, 0]
    }
    fn handles(&self) -> [Option<drm::buffer::Handle>; 4] {
        [Some(self.handle), None, None, None]
    }
    fn offsets(&self) -> [u32; 4] {
        [0; 4]
    }
}

/// Prints one bad-input check: ok when the driver refused (or coped) as it should.
fn check(name: &str, r: std::result::Result<String, String>) {
    match r {
        Ok(detail) => println!("CHECK {name}: ok ({detail})"),
        Err(detail) => println!("CHECK {name}: FAIL {detail}"),
    }
}

fn refused<T, E: std::fmt::Display>(
    r: std::result::Result<T, E>,
) -> std::result::Result<String, String> {
    match r {
        Ok(_) => Err("accepted".into()),
        Err(e) => Ok(format!("refused: {e}")),
    }
}

/// A damaged commit that must either be refused or copy exactly `bytes` (when the driver
/// reports what it copied).
fn clipped(r: Result<()>, bytes: u64) -> std::result::Result<String, String> {
    match (r, driver_counter("last_bytes")) {
        (Err(e), _) => Ok(format!("refused: {e}")),
        (Ok(()), Some(n)) if n == bytes => Ok(format!("copied {n} bytes")),
        (Ok(()), Some(n)) => Err(format!("copied {n} bytes, want {bytes}")),
        (Ok(()), None) => Ok("committed".into()),
    }
}

/// Whether framebuffer `id` is gone from DRM's list of framebuffers (debugfs), waiting up to
/// a second for the commit that let go of it.
fn framebuffer_freed(id: u32) -> std::result::Result<String, String> {
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

/// Shows pattern `seed` and holds the card open with the buffer mapped for `secs` seconds,
/// then draws into the mapping and cleans up, reporting what the driver said.
fn hold(card: &Card, size: &str, seed: &str, secs: &str) -> Result<()> {
    let seed = parse_seed(seed)?;
    let secs: u64 = secs.parse().map_err(|e| format!("bad seconds: {e}"))?;
    let p = pipe(card, size)?;
    let (mut db, fb) = buffer(card, &p, seed)?;
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| format!("SETCRTC {size}: {e}"))?;
    println!("@@HOLDING");
    std::thread::sleep(std::time::Duration::from_secs(secs));
    // The device may be gone now: these must fail cleanly or succeed, never crash.
    let r = draw(card, &mut db, seed + 1);
    println!("hold: redraw after {secs}s: {r:?}");
    println!("hold: RMFB: {:?}", card.destroy_framebuffer(fb));
    println!("hold: DESTROY_DUMB: {:?}", card.destroy_dumb_buffer(db));
    Ok(())
}

/// Bad requests and what the driver must say. With `c_bochs`, the checks Linux 7.3's C bochs
/// driver fails are left out (it accepts a framebuffer larger than video memory, and a mode
/// too slow for the vblank timer, which then warns on every commit); the tests run them on
/// rbochs.
fn badinput(card: &Card, c_bochs: bool) -> Result<()> {
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
        .map_err(|e| format!("CREATE_DUMB 8192x768: {e}"))?;
    let strided = Strided {
        size: (1024, 768),
        pitch: wide.pitch(),
        handle: wide.handle(),
        format: DrmFourcc::Xrgb8888,
    };
    let fb = card
        .add_planar_framebuffer(&strided, FbCmd2Flags::empty())
        .map_err(|e| format!("ADDFB2 with pitch {}: {e}", wide.pitch()))?;
    if !c_bochs {
        check(
            "fb-larger-than-vram",
            refused(card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))),
        );
    }
    let _ = card.destroy_framebuffer(fb);

    // mmap past the end of a dumb buffer.
    let len = (wide.pitch() * 768) as usize + (1 << 20);
    let map =
        dumbbuffer::map(fd, wide.handle().into(), 0, 0).map_err(|e| format!("MAP_DUMB: {e}"))?;
    check(
        "mmap-past-object",
        match SharedMap::new(fd, len, map.offset) {
            Ok(_) => Err("mapped".into()),
            Err(e) => Ok(format!("refused: {e}")),
        },
    );
    card.destroy_dumb_buffer(wide)
        .map_err(|e| format!("DESTROY_DUMB: {e}"))?;

    // A mode refreshing once a second: the vblank timer cannot pace it within the 100 ms the
    // atomic helpers wait for a vblank, so it must be refused, not set.
    let mut slow: drm_ffi::drm_mode_modeinfo = p.mode.into();
    slow.clock = (u32::from(slow.htotal) * u32::from(slow.vtotal))
        .div_ceil(1000)
        .max(1);
    slow.vrefresh = 1;
    let (sdb, sfb) = buffer(card, &p, 5)?;
    if !c_bochs {
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
    if !c_bochs {
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
        .map_err(|e| format!("SETCRTC: {e}"))?;
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
            clipped(commit_damage(card, &p, fb, &[clip]), on_screen),
        );
    }
    let _ = card.destroy_framebuffer(fb);
    card.destroy_dumb_buffer(db)
        .map_err(|e| format!("DESTROY_DUMB: {e}"))?;

    // Framebuffers userspace removes are freed, not held by the driver: one that another has
    // replaced on screen, then the one on screen (which takes the plane off).
    let (adb, afb) = buffer(card, &p, 6)?;
    let (bdb, bfb) = buffer(card, &p, 7)?;
    for fb in [afb, bfb] {
        card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
            .map_err(|e| format!("SETCRTC: {e}"))?;
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
    .map_err(|e| format!("SETCRTC 640x480: {e}"))?;
    let clips = [rect(700, 500, 800, 600), rect(600, 400, 700, 500)];
    // Only (600,400)-(640,480) of the second clip is on screen.
    check(
        "damage-outside-src",
        clipped(commit_damage(card, &small, fb, &clips), 40 * 80 * 4),
    );
    let _ = card.destroy_framebuffer(fb);
    card.destroy_dumb_buffer(db)
        .map_err(|e| format!("DESTROY_DUMB: {e}"))?;
    Ok(())
}

fn run(args: &[String]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["info"] => info(&Card::open()?),
        ["show", size, seed] => show(&Card::open()?, size, seed),
        ["show", size, seed, format] => show_format(&Card::open()?, size, seed, format),
        ["damage", rest @ ..] => damage(&Card::open()?, rest),
        ["offon", size, a, b] => off_on(&Card::open()?, size, a, b),
        ["noplane", size, a, how] => no_plane(&Card::open()?, size, a, how),
        ["hold", size, seed, secs] => hold(&Card::open()?, size, seed, secs),
        ["flip", size, n] => flip(&Card::open()?, size, n),
        ["fuzz", seed, n] => fuzz::run(Card::open()?.as_fd(), seed, n),
        ["badinput"] => badinput(&Card::open()?, false),
        ["badinput", "--c-bochs"] => badinput(&Card::open()?, true),
        _ => Err(
            "usage: rbguest info | show WxH SEED | damage ... | hold ... | flip WxH N | fuzz SEED N | badinput"
                .into(),
        ),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rbguest: error: {e}");
            ExitCode::FAILURE
        }
    }
}
