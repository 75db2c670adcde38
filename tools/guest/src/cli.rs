// SPDX-License-Identifier: GPL-2.0
//! rbguest's command line: what the host (`vmtest`) asks the guest to do.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "rbguest",
    about = "In-guest test program: talks KMS to /dev/dri/card0"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Driver, connectors and their modes.
    Info,
    /// Scans out pattern SEED at mode SIZE (WxH), prints @@READY, and keeps it on screen until
    /// a line arrives on stdin. FORMAT (xrgb8888, argb8888, bgrx8888, bgra8888): a framebuffer
    /// of that format (ADDFB2), its X or alpha byte varying from pixel to pixel.
    Show {
        size: String,
        seed: u32,
        format: Option<String>,
    },
    /// Shows pattern A, redraws the whole buffer with B, then reports only the rectangle
    /// X,Y,W,H as damaged; @@READY.
    Damage(Damage),
    /// Shows pattern A, turns the CRTC off in an atomic commit that leaves the framebuffer on
    /// the plane, draws B into it, turns the CRTC on again; @@READY (B must show).
    Offon { size: String, a: u32, b: u32 },
    /// Shows pattern A, then lights the CRTC without a plane; @@READY.
    Noplane { size: String, a: u32, how: NoPlane },
    /// Shows SEED, prints @@HOLDING, keeps the buffer mapped and the card open for SECS
    /// seconds, then cleans up.
    Hold { size: String, seed: u32, secs: u64 },
    /// Flips between two framebuffers N times with page-flip events.
    Flip { size: String, n: u32 },
    /// Alternates two full-screen solid colours (red, blue) at mode SIZE with blocking atomic
    /// page flips, as fast as they complete, for up to SECS seconds or until the file STOP
    /// exists; prints @@ALTERNATING once the first frame shows, and at the end
    /// `ALTERNATED commits=N seconds=S driver=NAME`.
    Alternate {
        size: String,
        secs: u64,
        #[arg(long, default_value = "/tmp/alternate.stop")]
        stop: std::path::PathBuf,
    },
    /// Shows a frame whose top half is red and bottom half blue (a torn frame); @@READY.
    Halves { size: String },
    /// N random ioctls from SEED.
    Fuzz { seed: u64, n: u64 },
    /// Feeds the driver bad requests; one CHECK line each.
    Badinput {
        /// Leave out the framebuffers and modes the device cannot scan out or pace, for a
        /// driver that accepts them (Linux 7.3's C bochs).
        #[arg(long)]
        skip_unpaceable: bool,
    },
}

#[derive(Args, Debug)]
pub struct Damage {
    pub size: String,
    pub a: u32,
    pub b: u32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub how: DamagePath,
}

/// How `damage` reports the rectangle.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DamagePath {
    /// FB_DAMAGE_CLIPS in an atomic commit.
    Atomic,
    /// DRM_IOCTL_MODE_DIRTYFB.
    Dirtyfb,
}

/// How `noplane` lights the CRTC without a plane.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoPlane {
    /// The plane is taken off a lit CRTC; black must show.
    Lit,
    /// Everything is turned off, then the CRTC on alone; black must show.
    Modeset,
    /// As `lit`, then the plane comes back damaging one pixel; A must show whole.
    Back,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rbguest").chain(line.split_whitespace()))
    }

    /// Every command line the host sends parses.
    #[test]
    fn host_command_lines() {
        for l in [
            "info",
            "show 1024x768 1",
            "show 1024x768 30 bgra8888",
            "damage 1024x768 11 12 100 50 64 64 atomic",
            "damage 1024x768 11 12 300 200 64 64 dirtyfb",
            "offon 1024x768 43 44",
            "noplane 1024x768 45 modeset",
            "hold 1024x768 21 3",
            "flip 1024x768 12",
            "fuzz 20261125 100000",
            "badinput",
            "badinput --skip-unpaceable",
            "alternate 1024x768 60",
            "alternate 1024x768 60 --stop /tmp/s",
            "halves 1024x768",
        ] {
            assert!(parse(l).is_ok(), "{l}");
        }
    }

    #[test]
    fn bad_lines_are_refused() {
        for l in [
            "",
            "show 1024x768",
            "show 1024x768 x",
            "damage 1024x768 11 12 300 200 64 64 sideways",
            "noplane 1024x768 45 off",
            "hold 1024x768 21 -3",
            "alternate 1024x768",
            "alternate 1024x768 -1",
        ] {
            assert!(parse(l).is_err(), "{l}");
        }
    }
}
