// SPDX-License-Identifier: GPL-2.0
//! What reaches the screen: patterns in each mode and format, the console, page flips and bad
//! requests.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};

use super::guest::{card_info, with_client};
use super::report::Report;
use crate::image::Image;
use crate::pattern;
use crate::vm::{indent, Vm};
use crate::Result;

/// Scans out a pattern at `size` and compares the host's screenshot with it.
pub fn check_pattern(vm: &mut Vm, out: &Path, size: (u32, u32), seed: u32) -> Result<()> {
    show_and_compare(vm, out, size, seed, None)
}

/// Scans out a pattern at `size` in each framebuffer format of `formats` (`rbguest show`'s
/// names) and compares the screen with it; names the formats that failed.
pub fn check_formats(vm: &mut Vm, out: &Path, size: (u32, u32), formats: &[&str]) -> Result<()> {
    let mut failed = Vec::new();
    for (seed, f) in (30..).zip(formats) {
        if let Err(e) = show_and_compare(vm, out, size, seed, Some(f)) {
            failed.push(format!("{f}: {e}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(failed.join("\n")))
    }
}

fn show_and_compare(
    vm: &mut Vm,
    out: &Path,
    size: (u32, u32),
    seed: u32,
    format: Option<&str>,
) -> Result<()> {
    let (w, h) = size;
    let (cmd, shot) = match format {
        None => (
            format!("rbguest show {w}x{h} {seed}"),
            format!("pattern-{w}x{h}-{seed}.png"),
        ),
        Some(f) => (
            format!("rbguest show {w}x{h} {seed} {f}"),
            format!("pattern-{w}x{h}-{seed}-{f}.png"),
        ),
    };
    screen_shows(vm, &cmd, &out.join(shot), size, |x, y| {
        pattern::pixel(seed, x, y)
    })
}

/// Runs the `rbguest` command `cmd`, which shows `expect` (the colour of each pixel) at
/// `size` once it is ready, and compares the screenshot (saved to `shot`) with it.
fn screen_shows(
    vm: &mut Vm,
    cmd: &str,
    shot: &Path,
    size: (u32, u32),
    expect: impl Fn(u32, u32) -> u32,
) -> Result<()> {
    with_client(vm, cmd, |vm, _| {
        vm.screendump(shot)?;
        let img = Image::load(shot)?;
        if (img.width, img.height) != size {
            return Err(anyhow!(
                "screen is {}x{}, want {}x{}",
                img.width,
                img.height,
                size.0,
                size.1
            ));
        }
        img.compare(expect)
            .with_context(|| shot.display().to_string())
    })
}

/// rbochs lets an atomic commit turn the CRTC off and leave the framebuffer on the plane
/// (C bochs refuses it with `EINVAL`, as the atomic helpers do by default). The client then
/// draws a new pattern into that framebuffer, reporting no damage, and turns the CRTC on
/// again: the screen must show the new pattern whole, so the driver copies the plane's
/// framebuffer in full when its CRTC comes back.
pub fn check_off_on(vm: &mut Vm, out: &Path) -> Result<()> {
    screen_shows(
        vm,
        "rbguest offon 1024x768 43 44",
        &out.join("off-on.png"),
        (1024, 768),
        |x, y| pattern::pixel(44, x, y),
    )
}

/// rbochs lets a CRTC be lit with no plane (C bochs refuses it with `EINVAL`, as the atomic
/// helpers do by default), and shows black then, not the last image: `how` is `lit` (the
/// plane is taken off a lit CRTC) or `modeset` (the CRTC is turned on again alone). With
/// `back`, the plane comes back on the lit CRTC with one damaged pixel, and the screen must
/// show its framebuffer whole, not that pixel over black.
pub fn check_no_plane(vm: &mut Vm, out: &Path, how: &str) -> Result<()> {
    let seed = 45;
    screen_shows(
        vm,
        &format!("rbguest noplane 1024x768 {seed} {how}"),
        &out.join(format!("no-plane-{how}.png")),
        (1024, 768),
        |x, y| match how {
            "back" => pattern::pixel(seed, x, y),
            _ => 0,
        },
    )
}

/// Sets every mode the connector lists (that fits the screenshot check) and compares.
pub fn check_all_modes(vm: &mut Vm, out: &Path) -> Result<()> {
    let ci = card_info(vm)?;
    let mut modes = ci.modes.clone();
    modes.dedup();
    let mut failed = Vec::new();
    for (i, m) in modes.iter().enumerate() {
        if let Err(e) = check_pattern(vm, out, *m, 100 + i as u32) {
            failed.push(format!("{}x{}: {e}", m.0, m.1));
        }
    }
    if failed.is_empty() {
        println!("INFO {} modes set and checked", modes.len());
        Ok(())
    } else {
        Err(anyhow!(failed.join("; ")))
    }
}

/// Page flips with events: `n` events, one per flip, in rising vblank sequence, no faster than
/// the mode's refresh rate allows (the software vblank timer paces them).
pub fn check_flips(vm: &mut Vm, n: u32, refresh_hz: u32) -> Result<()> {
    let out = vm.ok(&format!("rbguest flip 1024x768 {n}"))?;
    let events: Vec<(u64, f64)> = out
        .iter()
        .filter_map(|l| l.strip_prefix("FLIP "))
        .filter_map(|l| {
            let (seq, t) = l.split_once(' ')?;
            Some((seq.parse().ok()?, t.parse().ok()?))
        })
        .collect();
    if events.len() != n as usize {
        return Err(anyhow!(
            "{} page-flip events for {n} flips:\n{}",
            events.len(),
            indent(&out)
        ));
    }
    if let Some(w) = events
        .windows(2)
        .find(|w| w[1].0 <= w[0].0 || w[1].1 <= w[0].1)
    {
        return Err(anyhow!("vblank sequence or time did not advance: {w:?}"));
    }
    let (first, last) = (events[0], events[events.len() - 1]);
    let frames = (last.0 - first.0) as f64;
    let period = (last.1 - first.1) / frames;
    // A lower bound only: a slow machine stretches frames, it cannot shorten them.
    if period < 0.5 / f64::from(refresh_hz) {
        return Err(anyhow!(
            "{frames} vblanks in {:.4} s: faster than {refresh_hz} Hz",
            last.1 - first.1
        ));
    }
    println!("INFO {n} flips, {:.1} ms per vblank", period * 1000.0);
    Ok(())
}

/// Writes a banner to the console and checks that fbcon shows text: the screen is not blank
/// and changes when text is written.
pub fn check_fbcon(vm: &mut Vm, out: &Path) -> Result<()> {
    vm.ok("test -e /sys/class/graphics/fbcon")?;
    let before = out.join("fbcon-before.png");
    let after = out.join("fbcon-after.png");
    vm.ok("printf '\\033[2J\\033[H' > /dev/tty0")?;
    settle(vm, &before)?;
    vm.ok("for i in 1 2 3 4 5 6 7 8; do echo 'rbochs fbcon line '$i > /dev/tty0; done")?;
    let img = settle(vm, &after)?;
    let blank = Image::load(&before)?;
    let changed = img
        .pixels
        .iter()
        .zip(&blank.pixels)
        .filter(|(a, b)| a != b)
        .count();
    if img.colours() < 2 || changed < 500 {
        return Err(anyhow!(
            "console text not visible: {} colours, {changed} pixels changed ({})",
            img.colours(),
            after.display()
        ));
    }
    Ok(())
}

/// Takes screenshots until two in a row agree (fbcon draws through deferred I/O).
fn settle(vm: &mut Vm, path: &Path) -> Result<Image> {
    let mut last: Option<Vec<u32>> = None;
    for _ in 0..50 {
        vm.screendump(path)?;
        let img = Image::load(path)?;
        if last.as_ref() == Some(&img.pixels) {
            return Ok(img);
        }
        last = Some(img.pixels.clone());
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(anyhow!("{} never settled", path.display()))
}

/// Runs the bad-input program and records each of its checks; those of framebuffers and modes
/// the device cannot scan out or pace only for a driver that refuses them
/// ([`Driver::refuses_unpaceable`]).
pub fn check_badinput(vm: &mut Vm, rep: &mut Report, refuses_unpaceable: bool) {
    let cmd = if refuses_unpaceable {
        "rbguest badinput"
    } else {
        "rbguest badinput --skip-unpaceable"
    };
    match vm.run(cmd, Duration::from_secs(120)) {
        Ok((rc, out)) => {
            let mut seen = 0;
            for l in &out {
                if let Some(rest) = l.strip_prefix("CHECK ") {
                    if let Some((name, verdict)) = rest.split_once(": ") {
                        seen += 1;
                        let r = if verdict.starts_with("ok") {
                            Ok(())
                        } else {
                            Err(anyhow!(verdict.to_string()))
                        };
                        rep.record(&format!("badinput.{name}"), r);
                    }
                }
            }
            if rc != 0 || seen == 0 {
                rep.record("badinput", Err(anyhow!("exited {rc}:\n{}", indent(&out))));
            }
        }
        Err(e) => {
            rep.record("badinput", Err(e));
        }
    }
}
