// SPDX-License-Identifier: GPL-2.0
//! In-guest test program: talks KMS to `/dev/dri/card0` and reports on stdout
//! in line-oriented form that the host side (`vmtest`) parses.
//!
//! The commands are in [`cli`]; `rbguest help` lists them.

mod badinput;
mod cli;
mod fuzz;
mod tearing;

use std::io::BufRead;
use std::os::fd::AsFd;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Parser;
use drm::buffer::Buffer;
use drm::control::{
    atomic::AtomicModeReq, dumbbuffer::DumbBuffer, framebuffer, property, AtomicCommitFlags,
    ClipRect, Device as ControlDevice, FbCmd2Flags, ModeTypeFlags,
};
use drm::{ClientCapability, Device};
use drm_fourcc::DrmFourcc;
use rbguest::protocol;
use rbguest::{
    buffer, commit_damage, draw, driver_state, free_buffer, mode_name, pipe, primary_plane, Card,
    DamageRect, Pipe, Result, Strided,
};

use cli::{Cmd, DamagePath, NoPlane};

fn info(card: &Card) -> Result<()> {
    let drv = card.get_driver().map_err(|e| anyhow!("VERSION: {e}"))?;
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
    println!("{}", protocol::READY);
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

fn show(card: &Card, size: &str, seed: u32) -> Result<()> {
    let p = pipe(card, size)?;
    let (db, fb) = buffer(card, &p, seed)?;
    show_until_host(card, &p, db, fb)
}

/// Sets `p`'s mode with `fb` on screen, keeps it there until the host says, then frees `fb`
/// and its buffer `db`.
fn show_until_host(card: &Card, p: &Pipe, db: DumbBuffer, fb: framebuffer::Handle) -> Result<()> {
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC {}: {e}", mode_name(&p.mode)))?;
    hold_until_host(card, db, fb)
}

/// Waits for the host's word, then frees `fb` and its buffer `db`.
fn hold_until_host(card: &Card, db: DumbBuffer, fb: framebuffer::Handle) -> Result<()> {
    wait_for_host();
    free_buffer(card, db, fb)
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
fn show_format(card: &Card, size: &str, seed: u32, format: &str) -> Result<()> {
    let &(_, fourcc, big) = FORMATS
        .iter()
        .find(|f| f.0 == format)
        .ok_or_else(|| anyhow!("unknown format '{format}'"))?;
    let p = pipe(card, size)?;
    let (w, h) = p.mode.size();
    let mut db = card
        .create_dumb_buffer((w.into(), h.into()), fourcc, 32)
        .map_err(|e| anyhow!("CREATE_DUMB {w}x{h}: {e}"))?;
    let pitch = db.pitch() as usize;
    {
        let mut map = card
            .map_dumb_buffer(&mut db)
            .map_err(|e| anyhow!("MAP_DUMB: {e}"))?;
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
        .map_err(|e| anyhow!("ADDFB2 {format}: {e}"))?;
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
        .map_err(|e| anyhow!("ATOMIC {what}: {e}"))
}

/// Turns `p`'s CRTC on again in `p`'s mode, adding nothing else to the commit.
fn crtc_on(card: &Card, p: &Pipe) -> Result<()> {
    let blob = card
        .create_property_blob(&p.mode)
        .map_err(|e| anyhow!("CREATEPROPBLOB mode: {e}"))?;
    let property::Value::Blob(id) = blob else {
        return Err(anyhow!("CREATEPROPBLOB gave {blob:?}"));
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
        .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP atomic: {e}"))?;
    Ok((p, db, fb))
}

/// Shows pattern `a`, turns the CRTC off with an atomic commit that leaves the framebuffer
/// on the primary plane, draws pattern `b` into the framebuffer while the CRTC is off (no
/// damage reported), and turns the CRTC on again without touching the plane: the screen
/// must show `b`, all of it.
fn off_on(card: &Card, size: &str, a: u32, b: u32) -> Result<()> {
    let (p, mut db, fb) = show_then_atomic(card, size, a)?;
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
fn no_plane(card: &Card, size: &str, a: u32, how: NoPlane) -> Result<()> {
    let (p, db, fb) = show_then_atomic(card, size, a)?;
    let (plane, props) = primary_plane(card, &p)?;
    let mut req = AtomicModeReq::new();
    req.add_property(
        plane,
        props.get("FB_ID")?,
        property::Value::Framebuffer(None),
    );
    req.add_property(plane, props.get("CRTC_ID")?, property::Value::CRTC(None));
    match how {
        NoPlane::Lit | NoPlane::Back => card
            .atomic_commit(AtomicCommitFlags::empty(), req)
            .map_err(|e| anyhow!("ATOMIC plane off, CRTC on: {e}"))?,
        NoPlane::Modeset => {
            crtc_on_off(card, &p, &mut req, None)?;
            commit_modeset(card, req, "CRTC and plane off")?;
            crtc_on(card, &p)?;
        }
    }
    if how == NoPlane::Back {
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

fn damage(card: &Card, a: &cli::Damage) -> Result<()> {
    let cli::Damage {
        ref size,
        a: sa,
        b: sb,
        x,
        y,
        w,
        h,
        how,
    } = *a;
    let p = pipe(card, size)?;
    let (mut db, fb) = buffer(card, &p, sa)?;
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
    let report = || -> Result<()> {
        match how {
            DamagePath::Atomic => {
                let r = DamageRect {
                    x1: x as i32,
                    y1: y as i32,
                    x2: (x + w) as i32,
                    y2: (y + h) as i32,
                };
                commit_damage(card, &p, fb, &[r])
            }
            DamagePath::Dirtyfb => {
                let c = |v: u32| u16::try_from(v).map_err(|_| anyhow!("{v} too large for DIRTYFB"));
                let clip = ClipRect::new(c(x)?, c(y)?, c(x + w)?, c(y + h)?);
                card.dirty_framebuffer(fb, &[clip])
                    .map_err(|e| anyhow!("DIRTYFB: {e}"))
            }
        }
    };
    // The rectangle reported once over the unchanged picture: with two frames in video
    // memory, both then hold it, and the next update copies this damage and its own.
    report()?;
    // Everything changes in memory; only one rectangle is reported.
    draw(card, &mut db, sb)?;
    report()?;
    print_state();
    hold_until_host(card, db, fb)
}

/// Flips between two framebuffers `n` times with page-flip events, printing each event
/// (`FLIP sequence seconds.micros`) and then `FLIPS count`.
fn flip(card: &Card, size: &str, n: u32) -> Result<()> {
    let p = pipe(card, size)?;
    let (db_a, fb_a) = buffer(card, &p, 41)?;
    let (db_b, fb_b) = buffer(card, &p, 42)?;
    card.set_crtc(p.crtc, Some(fb_a), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP atomic: {e}"))?;
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
        .map_err(|e| anyhow!("ATOMIC page flip {i}: {e}"))?;
        // Blocks until the event for this flip arrives.
        let events = card
            .receive_events()
            .map_err(|e| anyhow!("reading events: {e}"))?;
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
    free_buffer(card, db_a, fb_a)?;
    free_buffer(card, db_b, fb_b)
}

/// Shows pattern `seed` and holds the card open with the buffer mapped for `secs` seconds,
/// then draws into the mapping and cleans up, reporting what the driver said.
fn hold(card: &Card, size: &str, seed: u32, secs: u64) -> Result<()> {
    let p = pipe(card, size)?;
    let (mut db, fb) = buffer(card, &p, seed)?;
    card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
    println!("{}", protocol::HOLDING);
    std::thread::sleep(std::time::Duration::from_secs(secs));
    // The device may be gone now: these must fail cleanly or succeed, never crash.
    let r = draw(card, &mut db, seed + 1);
    println!("hold: redraw after {secs}s: {r:?}");
    println!("hold: RMFB: {:?}", card.destroy_framebuffer(fb));
    println!("hold: DESTROY_DUMB: {:?}", card.destroy_dumb_buffer(db));
    Ok(())
}

fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Info => info(&Card::open()?),
        Cmd::Show {
            size,
            seed,
            format: None,
        } => show(&Card::open()?, &size, seed),
        Cmd::Show {
            size,
            seed,
            format: Some(f),
        } => show_format(&Card::open()?, &size, seed, &f),
        Cmd::Damage(a) => damage(&Card::open()?, &a),
        Cmd::Offon { size, a, b } => off_on(&Card::open()?, &size, a, b),
        Cmd::Noplane { size, a, how } => no_plane(&Card::open()?, &size, a, how),
        Cmd::Hold { size, seed, secs } => hold(&Card::open()?, &size, seed, secs),
        Cmd::Flip { size, n } => flip(&Card::open()?, &size, n),
        Cmd::Fuzz { seed, n } => fuzz::run(Card::open()?.as_fd(), seed, n),
        Cmd::Badinput { skip_unpaceable } => badinput::badinput(&Card::open()?, skip_unpaceable),
        Cmd::Alternate { size, secs, stop } => {
            tearing::alternate(&Card::open()?, &size, secs, &stop)
        }
        Cmd::Halves { size } => tearing::halves(&Card::open()?, &size),
    }
}

fn main() -> ExitCode {
    match run(cli::Cli::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e:#}", protocol::ERROR);
            ExitCode::FAILURE
        }
    }
}
