// SPDX-License-Identifier: GPL-2.0
//! In-guest test program: talks KMS to `/dev/dri/card0` and reports on stdout
//! in line-oriented form that the host side (`vmtest`) parses.
//!
//! ```text
//! rbguest info            driver, connectors and their modes
//! rbguest show WxH SEED   scan out pattern SEED at mode WxH, print @@READY,
//!                         keep it on screen until a line arrives on stdin
//! ```

use std::fs::{File, OpenOptions};
use std::io::BufRead;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitCode;

use drm::buffer::Buffer;
use drm::control::{connector, Device as ControlDevice, Mode, ModeTypeFlags};
use drm::Device;
use drm_fourcc::DrmFourcc;

#[path = "../../common/pattern.rs"]
mod pattern;

type Result<T> = std::result::Result<T, String>;

struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Device for Card {}
impl ControlDevice for Card {}

impl Card {
    fn open() -> Result<Card> {
        let path = std::env::var("RBGUEST_CARD").unwrap_or_else(|_| "/dev/dri/card0".into());
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map(Card)
            .map_err(|e| format!("open {path}: {e}"))
    }

    fn connectors(&self) -> Result<Vec<connector::Info>> {
        let res = self
            .resource_handles()
            .map_err(|e| format!("GETRESOURCES: {e}"))?;
        res.connectors()
            .iter()
            .map(|&c| {
                self.get_connector(c, true)
                    .map_err(|e| format!("GETCONNECTOR: {e}"))
            })
            .collect()
    }
}

fn mode_name(m: &Mode) -> String {
    let (w, h) = m.size();
    format!("{w}x{h}")
}

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

fn parse_size(s: &str) -> Result<(u16, u16)> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("bad size '{s}', want WxH"))?;
    let p = |v: &str| v.parse::<u16>().map_err(|e| format!("bad size '{s}': {e}"));
    Ok((p(w)?, p(h)?))
}

fn show(card: &Card, size: &str, seed: &str) -> Result<()> {
    let (w, h) = parse_size(size)?;
    let seed: u32 = seed
        .parse()
        .map_err(|e| format!("bad seed '{seed}': {e}"))?;
    let conn = card
        .connectors()?
        .into_iter()
        .find(|c| c.state() == connector::State::Connected)
        .ok_or("no connected connector")?;
    let mode = *conn
        .modes()
        .iter()
        .find(|m| m.size() == (w, h))
        .ok_or_else(|| format!("connector has no mode {size}"))?;
    let res = card
        .resource_handles()
        .map_err(|e| format!("GETRESOURCES: {e}"))?;
    let crtc = *res.crtcs().first().ok_or("no CRTC")?;

    let mut db = card
        .create_dumb_buffer((w.into(), h.into()), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| format!("CREATE_DUMB {size}: {e}"))?;
    {
        let pitch = db.pitch() as usize;
        let mut map = card
            .map_dumb_buffer(&mut db)
            .map_err(|e| format!("MAP_DUMB: {e}"))?;
        for y in 0..u32::from(h) {
            let row = &mut map[y as usize * pitch..][..usize::from(w) * 4];
            for (x, px) in row.chunks_exact_mut(4).enumerate() {
                px.copy_from_slice(&pattern::pixel(seed, x as u32, y).to_le_bytes());
            }
        }
    }
    let fb = card
        .add_framebuffer(&db, 24, 32)
        .map_err(|e| format!("ADDFB: {e}"))?;
    card.set_crtc(crtc, Some(fb), (0, 0), &[conn.handle()], Some(mode))
        .map_err(|e| format!("SETCRTC {size}: {e}"))?;
    println!("@@READY");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    card.destroy_framebuffer(fb)
        .map_err(|e| format!("RMFB: {e}"))?;
    card.destroy_dumb_buffer(db)
        .map_err(|e| format!("DESTROY_DUMB: {e}"))?;
    Ok(())
}

fn run(args: &[String]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["info"] => info(&Card::open()?),
        ["show", size, seed] => show(&Card::open()?, size, seed),
        _ => Err("usage: rbguest info | show WxH SEED".into()),
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
