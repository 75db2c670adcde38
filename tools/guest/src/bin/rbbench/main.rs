// SPDX-License-Identifier: GPL-2.0
//! In-guest benchmark of a KMS display driver: the same program runs on rbochs and on Linux's
//! C bochs driver, and the host (`vmtest bench`) compares what they print.
//!
//! ```text
//! rbbench kms FRAMES SWITCHES [--counters] [--sync]
//!                               one pass of every KMS workload, FRAMES updates each
//!                               (SWITCHES for the modeset one)
//! rbbench fbcon LINES [--counters] [--sync]
//!                               fbcon scrolling: LINES lines written to /dev/tty0
//! ```
//!
//! `--counters`: the driver's debugfs state counts what it copied (the host knows which
//! drivers do). `--sync`: around each workload's timed updates print `SYNC begin NAME` and
//! `SYNC end NAME` and wait for a line on standard input after each, so that the host can
//! read QEMU's CPU time and switch its tracing on and off exactly at the loop's edges.
//!
//! Each workload prints one line, `BENCH name key=value ...`, with
//!
//! - `ops`: updates timed; `rate`: updates per second over the whole loop, the client's
//!   drawing included (frames, commits, switches or lines per second); `hz`: the refresh rate
//!   of the mode (`na` for the console);
//! - `wall_ms`, `cpu_ms`: the median time one update's ioctl (or write) took, on the clock
//!   and in CPU time of the calling thread. A blocking commit sleeps until the next vblank:
//!   that sleep is in `wall_ms`, not in `cpu_ms`; the copy into video memory runs in the
//!   caller's context and is in both. For the console, `cpu_ms` is the CPU time of the whole
//!   guest per line, from the first line until the display has caught up, since the copies run
//!   in the fbdev helper's worker;
//! - `memcpy_ms`: the median time a plain copy of the same rectangles, from the client's
//!   buffer into a buffer in RAM, takes here: the limit for a driver that must copy. It is
//!   timed in a loop of its own right after the updates' (drawing the same way), so that both
//!   see much the same conditions without the copies eating into the updates' frame time;
//!   `frac`: the median memcpy time over the median CPU time of an update ("fraction of
//!   memcpy");
//! - `vram_ms`: the same copy into the device's video memory instead of RAM, through the
//!   PCI resource file (`resource0_wc`), into the half of video memory no driver scans out:
//!   what writing to this device costs, whoever writes (`na` without `resource0_wc`, or when
//!   half of video memory is smaller than a frame);
//! - `paced_ms`: the same copy into the same RAM as `memcpy_ms`, but timed the way a driver
//!   copies: once per frame interval of the mode (sleeping out the rest of it), each right
//!   after the client drew the source, so caches and TLB are as cold as the driver finds them;
//! - `damaged`: the bytes each update reported as damaged; `bytes`: the bytes the driver says
//!   it copied per update (rbochs's debugfs counters; `na` where a driver has none); `flips`:
//!   scanout flips per update and `buffering`: `double` or `single` (rbochs's debugfs state,
//!   `na` where the driver has no such fields).
//!
//! The timed loops do nothing but draw and commit, or draw and copy; every lookup happens
//! before them.

mod fbcon;
mod kms;
mod measure;
mod screen;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Size of the damage rectangles of the small-damage workloads.
pub const TILE: u32 = 64;

/// The mode of the small-damage and DIRTYFB workloads.
pub const BIG: &str = "1920x1080";

/// The modes the full-frame workload runs at.
pub const FULL_MODES: [&str; 2] = ["1024x768", BIG];

/// The two modes the modeset workload switches between.
pub const MODESET_MODES: [&str; 2] = ["1024x768", "1280x1024"];

/// Damage rectangles per commit of the small-damage workloads.
pub const DAMAGE_COUNTS: [u32; 3] = [1, 8, 64];

/// Damage rectangles per DIRTYFB call of the partial DIRTYFB workload.
pub const DIRTY_COUNT: u32 = 8;

/// Updates before each timed loop, to let the pipeline settle.
pub const WARMUP: u32 = 2;

/// Full-frame updates (and copies) on each new screen before anything is measured.
pub const SETTLE_FRAMES: u32 = 30;

#[derive(Parser, Debug)]
#[command(name = "rbbench", about = "In-guest benchmark of a KMS display driver")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// One pass of every KMS workload, FRAMES updates each (SWITCHES for the modeset one).
    Kms {
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        frames: u32,
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        switches: u32,
        #[command(flatten)]
        opts: Opts,
    },
    /// fbcon scrolling: LINES lines written to /dev/tty0.
    Fbcon {
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        lines: u32,
        #[command(flatten)]
        opts: Opts,
    },
}

/// What the host knows of the driver under test, and whether it follows the loops.
#[derive(clap::Args, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    /// The driver's debugfs state counts commits and copied bytes: report `bytes=` and
    /// `copy_ms=` from it.
    #[arg(long)]
    pub counters: bool,
    /// Print `SYNC begin|end NAME` around each timed loop and wait for a line on stdin.
    #[arg(long)]
    pub sync: bool,
}

fn main() -> ExitCode {
    let res = match Cli::parse().cmd {
        Cmd::Kms {
            frames,
            switches,
            opts,
        } => kms::kms(frames, switches, opts),
        Cmd::Fbcon { lines, opts } => fbcon::fbcon(lines, opts),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rbbench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rbbench").chain(line.split_whitespace()))
    }

    #[test]
    fn command_lines() {
        assert!(matches!(
            parse("kms 60 20 --counters").unwrap().cmd,
            Cmd::Kms {
                frames: 60,
                switches: 20,
                opts: Opts {
                    counters: true,
                    sync: false
                }
            }
        ));
        assert!(matches!(
            parse("fbcon 100 --sync").unwrap().cmd,
            Cmd::Fbcon {
                lines: 100,
                opts: Opts {
                    counters: false,
                    sync: true
                }
            }
        ));
        for bad in ["kms 0 20", "kms 60", "fbcon x", "fbcon 0"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
