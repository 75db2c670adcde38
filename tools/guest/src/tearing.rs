// SPDX-License-Identifier: GPL-2.0
//! The guest's half of the tearing test: a client that changes the whole screen on every
//! commit, and a still frame that is torn on purpose, for the host's detector.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use drm::control::{atomic::AtomicModeReq, property, AtomicCommitFlags, Device as ControlDevice};
use drm::{ClientCapability, Device};
use rbguest::protocol::{ALTERNATING, TEAR_A, TEAR_B};
use rbguest::{buffer_with, free_buffer, pipe, primary_plane, Card, Result};

/// The colour of the frame `commit` shows: commit 0 (the modeset) shows A, and every commit
/// after it the other colour than the one before.
pub fn colour_of(commit: u64) -> u32 {
    if commit.is_multiple_of(2) {
        TEAR_A
    } else {
        TEAR_B
    }
}

/// Sets mode `size` showing solid A, prints [`ALTERNATING`] and then flips the primary plane
/// between two framebuffers, solid A and solid B, with blocking atomic commits as fast as
/// they complete, so that every commit changes every pixel. Stops after `secs` seconds or
/// once the file `stop` exists (checked before every commit), and prints
/// `ALTERNATED commits=N seconds=S driver=NAME`: the page flips made and how long they took.
pub fn alternate(card: &Card, size: &str, secs: u64, stop: &Path) -> Result<()> {
    let _ = std::fs::remove_file(stop);
    let drv = card.get_driver().map_err(|e| anyhow!("VERSION: {e}"))?;
    let p = pipe(card, size)?;
    let (db_a, fb_a) = buffer_with(card, &p, |_, _| TEAR_A)?;
    let (db_b, fb_b) = buffer_with(card, &p, |_, _| TEAR_B)?;
    card.set_crtc(p.crtc, Some(fb_a), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP atomic: {e}"))?;
    let (plane, props) = primary_plane(card, &p)?;
    let fb_id = props.get("FB_ID")?;
    println!("{ALTERNATING}");
    let start = Instant::now();
    let limit = Duration::from_secs(secs);
    let mut commits = 0u64;
    while start.elapsed() < limit && !stop.exists() {
        let fb = if colour_of(commits + 1) == TEAR_A {
            fb_a
        } else {
            fb_b
        };
        let mut req = AtomicModeReq::new();
        req.add_property(plane, fb_id, property::Value::Framebuffer(Some(fb)));
        // No FB_DAMAGE_CLIPS: a new framebuffer damages the whole plane. Without NONBLOCK
        // the call returns once the new frame is on screen.
        card.atomic_commit(AtomicCommitFlags::empty(), req)
            .map_err(|e| anyhow!("ATOMIC flip {commits}: {e}"))?;
        commits += 1;
    }
    println!(
        "ALTERNATED commits={commits} seconds={:.3} driver={}",
        start.elapsed().as_secs_f64(),
        drv.name().to_string_lossy()
    );
    free_buffer(card, db_a, fb_a)?;
    free_buffer(card, db_b, fb_b)
}

/// The colour of pixel row `y` of the torn still frame of height `h`: A above the middle,
/// B below.
pub fn halves_colour(y: u32, h: u32) -> u32 {
    if y < h / 2 {
        TEAR_A
    } else {
        TEAR_B
    }
}

/// Shows a frame whose top half is A and bottom half B, what a tear looks like, until the
/// host says.
pub fn halves(card: &Card, size: &str) -> Result<()> {
    let p = pipe(card, size)?;
    let h = u32::from(p.mode.size().1);
    let (db, fb) = buffer_with(card, &p, |_, y| halves_colour(y, h))?;
    crate::show_until_host(card, &p, db, fb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every commit shows the other colour than the one before, starting from the modeset's
    /// A: a client that committed the same framebuffer twice would change nothing on screen.
    #[test]
    fn every_commit_changes_colour() {
        assert_eq!(colour_of(0), TEAR_A);
        for c in 0..10 {
            assert_ne!(colour_of(c), colour_of(c + 1), "commit {c}");
        }
    }

    #[test]
    fn halves_hold_both_colours() {
        let rows: Vec<u32> = (0..5).map(|y| halves_colour(y, 5)).collect();
        assert_eq!(rows, [TEAR_A, TEAR_A, TEAR_B, TEAR_B, TEAR_B]);
    }
}
