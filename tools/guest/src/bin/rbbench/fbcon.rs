// SPDX-License-Identifier: GPL-2.0
//! `rbbench fbcon`: console scrolling with no DRM client open.

use std::io::Write;
use std::time::Instant;

use anyhow::anyhow;
use rbguest::Result;

use super::measure::{counters, sync, Copied, Loop};
use super::Opts;

/// Processes that hold a DRM device open (`pid comm`).
pub fn drm_holders() -> Vec<String> {
    let mut v = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return v;
    };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .map(|t| t.starts_with("/dev/dri/"))
                .unwrap_or(false)
        });
        if holds {
            let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
            v.push(format!("{pid} {}", comm.trim()));
        }
    }
    v
}

/// fbcon bound to a framebuffer (a vtconsole whose name says "frame buffer" is bound).
pub fn fbcon_bound() -> bool {
    let Ok(dir) = std::fs::read_dir("/sys/class/vtconsole") else {
        return false;
    };
    dir.flatten().any(|e| {
        let name = std::fs::read_to_string(e.path().join("name")).unwrap_or_default();
        let bind = std::fs::read_to_string(e.path().join("bind")).unwrap_or_default();
        name.contains("frame buffer") && bind.trim() == "1"
    })
}

/// The name of the DRM driver bound to the first card, from sysfs (no open needed).
pub fn sysfs_driver() -> String {
    (0..16)
        .map(|n| format!("/sys/class/drm/card{n}/device/driver"))
        .find_map(|p| std::fs::read_link(p).ok())
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "none".into())
}

/// Busy CPU time of the whole guest so far, in seconds (`/proc/stat`, in clock ticks of
/// 1/100 s).
pub fn busy_now() -> Result<f64> {
    let st = std::fs::read_to_string("/proc/stat").map_err(|e| anyhow!("/proc/stat: {e}"))?;
    let line = st
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| anyhow!("/proc/stat has no cpu line"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| {
            x.parse()
                .map_err(|_| anyhow!("bad /proc/stat line '{line}'"))
        })
        .collect::<Result<_>>()?;
    // user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy.
    let busy: u64 = v
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, x)| x)
        .sum();
    Ok(busy as f64 / 100.0)
}

/// How long the console is given after the last line for its worker to copy the rest.
pub const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// fbcon scrolling: `lines` lines of text written to the console, no DRM client open.
pub fn fbcon(lines: u32, opts: Opts) -> Result<()> {
    let holders = drm_holders();
    if !holders.is_empty() {
        return Err(anyhow!(
            "a DRM client holds the card, fbcon would not draw: {}",
            holders.join(", ")
        ));
    }
    if !fbcon_bound() {
        return Err(anyhow!("fbcon is not bound to a framebuffer"));
    }
    let drv = sysfs_driver();
    println!("DRIVER {drv}");
    let mut tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty0")
        .map_err(|e| anyhow!("open /dev/tty0: {e}"))?;
    // Clear the screen and home the cursor; then lines shorter than the narrowest console
    // (128 columns at 1024x768), so each is one line on screen.
    tty.write_all(b"\x1b[2J\x1b[H")
        .map_err(|e| anyhow!("write /dev/tty0: {e}"))?;
    std::thread::sleep(SETTLE);
    let text: Vec<Vec<u8>> = (0..lines)
        .map(|i| {
            let fill: String = (0..90)
                .map(|k| char::from(b'!' + ((i + k) % 94) as u8))
                .collect();
            format!("rbbench {i:6} {fill}\n").into_bytes()
        })
        .collect();
    sync(opts.sync, "begin", "fbcon")?;
    let before = counters(opts.counters);
    let busy = busy_now()?;
    let mut l = Loop::default();
    let start = Instant::now();
    for t in &text {
        let w = Instant::now();
        tty.write_all(t)
            .map_err(|e| anyhow!("write /dev/tty0: {e}"))?;
        l.wall.push(w.elapsed().as_secs_f64());
    }
    l.total = start.elapsed().as_secs_f64();
    // The copies into video memory run in the fbdev helper's worker: let it finish, and count
    // the whole guest's CPU time.
    std::thread::sleep(SETTLE);
    let busy = busy_now()? - busy;
    l.cpu = vec![busy / f64::from(lines)];
    let after = counters(opts.counters);
    sync(opts.sync, "end", "fbcon")?;
    l.print(
        "fbcon",
        None,
        0,
        &Copied::between(before, after, Some(u64::from(lines))),
    );
    Ok(())
}
