// SPDX-License-Identifier: GPL-2.0
//! `rbbench kms`: one pass of every KMS workload.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use drm::buffer::Buffer;
use drm::control::{framebuffer, Device as ControlDevice};
use drm::{ClientCapability, Device};
use rbguest::{buffer, pipe, Card, Pipe, Result};

use super::measure::{counters, cpu_now, sync, Copied, Loop};
use super::screen::{copy_rects, tiles, Canvas, Path, Rect, Screen, Vram};
use super::{
    Opts, BIG, DAMAGE_COUNTS, DIRTY_COUNT, FULL_MODES, MODESET_MODES, SETTLE_FRAMES, WARMUP,
};

/// What the workloads of one `rbbench kms` pass share.
pub struct Pass<'a> {
    pub card: &'a Card,
    /// The destination of the reference copies: a frame of the largest mode, in RAM.
    pub ram: Vec<u8>,
    /// And in video memory, where the device has room for a second frame.
    pub vram: Option<Vram>,
    /// Updates per workload.
    pub frames: u32,
    /// Counters and host handshakes.
    pub opts: Opts,
}

/// The time between two copies of the paced reference: the mode's frame interval.
pub fn frame_interval(hz: u32) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(if hz == 0 { 60 } else { hz }))
}

impl Pass<'_> {
    /// Draws `rects` every frame and reports them as damage, `frames` times, then copies the
    /// same rectangles into RAM as often; prints the result as workload `name`.
    pub fn damage_loop(
        &mut self,
        scr: &mut Screen,
        name: &str,
        rects: &[Rect],
        path: Path,
    ) -> Result<()> {
        let hz = scr.pipe.mode.vrefresh();
        let (l, copied) = self.measure(scr, rects, path, self.frames, Some(name))?;
        let damaged = rects.iter().map(Rect::bytes).sum();
        l.print(name, Some(hz), damaged, &copied);
        Ok(())
    }

    /// The loops of [`Pass::damage_loop`]: the timings and what the driver copied per update.
    /// `name`: the workload's, for the host's handshakes and the paced reference (none for a
    /// warm-up).
    pub fn measure(
        &mut self,
        scr: &mut Screen,
        rects: &[Rect],
        path: Path,
        frames: u32,
        name: Option<&str>,
    ) -> Result<(Loop, Copied)> {
        let (card, ram, opts) = (self.card, &mut self.ram[..], self.opts);
        let has_counters = opts.counters;
        let interval = frame_interval(scr.pipe.mode.vrefresh());
        let pitch = scr.db.pitch() as usize;
        let frame = pitch * scr.size().1 as usize;
        let blob = rbguest::damage_blob_bytes(&rects.iter().map(Rect::damage).collect::<Vec<_>>());
        let clips = rects.iter().map(Rect::clip).collect::<Result<Vec<_>>>()?;
        let target = scr.target;
        let update = || match path {
            Path::Atomic => target.commit(card, &blob),
            Path::DirtyFb => card
                .dirty_framebuffer(target.fb, &clips)
                .map_err(|e| anyhow!("DIRTYFB: {e}")),
        };
        let mut map = card
            .map_dumb_buffer(&mut scr.db)
            .map_err(|e| anyhow!("MAP_DUMB: {e}"))?;
        let draw = |map: &mut [u8], i: u32| -> Result<()> {
            let mut canvas = Canvas { mem: map, pitch };
            rects.iter().try_for_each(|r| canvas.draw(r, i))
        };

        // The updates: draw, then report the damage.
        let mut l = Loop::default();
        let mut before = None;
        let mut start = Instant::now();
        for i in 0..WARMUP + frames {
            if i == WARMUP {
                if let Some(n) = name {
                    sync(opts.sync, "begin", n)?;
                }
                before = counters(has_counters);
                start = Instant::now();
            }
            draw(&mut map, i)?;
            let (t, c) = (Instant::now(), cpu_now());
            update()?;
            let (cpu, wall) = (cpu_now() - c, t.elapsed().as_secs_f64());
            if i >= WARMUP {
                l.wall.push(wall);
                l.cpu.push(cpu);
            }
        }
        l.total = start.elapsed().as_secs_f64();
        let after = counters(has_counters);
        if let Some(n) = name {
            sync(opts.sync, "end", n)?;
        }

        // The reference right after: draw the same way, then copy the same rectangles from
        // the same buffer into RAM.
        for i in 0..WARMUP + frames {
            draw(&mut map, i)?;
            let t = Instant::now();
            copy_rects(ram, &map, pitch, rects)?;
            std::hint::black_box(&mut *ram);
            if i >= WARMUP {
                l.reference.push(t.elapsed().as_secs_f64());
            }
        }
        // Again, timed the way a driver copies: once per frame interval, right after the
        // client drew the source, into the same RAM.
        if name.is_some() {
            for i in 0..WARMUP + frames {
                let tick = Instant::now();
                draw(&mut map, i)?;
                let t = Instant::now();
                copy_rects(ram, &map, pitch, rects)?;
                std::hint::black_box(&mut *ram);
                if i >= WARMUP {
                    l.paced.push(t.elapsed().as_secs_f64());
                }
                std::thread::sleep(interval.saturating_sub(tick.elapsed()));
            }
        }
        // And into video memory, where it fits.
        if let Some(vram) = self.vram.as_mut() {
            let dst = vram.upper_half();
            if dst.len() >= frame {
                for i in 0..WARMUP + frames {
                    draw(&mut map, i)?;
                    let t = Instant::now();
                    copy_rects(dst, &map, pitch, rects)?;
                    if i >= WARMUP {
                        l.vram.push(t.elapsed().as_secs_f64());
                    }
                }
            }
        }
        Ok((l, Copied::between(before, after, None)))
    }

    /// The workloads of one screen: full frames, and at [`BIG`] small damage and DIRTYFB.
    pub fn screen_workloads(&mut self, scr: &mut Screen, size: &str) -> Result<()> {
        let (w, h) = scr.size();
        let full = [Rect { x: 0, y: 0, w, h }];
        // Under TCG the first second or so of copies on a new screen runs much slower than
        // the rest (a warm-up of QEMU's, not of the driver's): spend it unmeasured.
        self.measure(scr, &full, Path::Atomic, SETTLE_FRAMES, None)?;
        self.damage_loop(scr, &format!("full-{size}"), &full, Path::Atomic)?;
        if size != BIG {
            return Ok(());
        }
        for n in DAMAGE_COUNTS {
            self.damage_loop(scr, &format!("damage-{n}"), &tiles(n, w, h)?, Path::Atomic)?;
        }
        self.damage_loop(scr, "dirtyfb-full", &full, Path::DirtyFb)?;
        let rects = tiles(DIRTY_COUNT, w, h)?;
        self.damage_loop(
            scr,
            &format!("dirtyfb-{DIRTY_COUNT}"),
            &rects,
            Path::DirtyFb,
        )
    }
}

/// One pass of every KMS workload.
pub fn kms(frames: u32, switches: u32, opts: Opts) -> Result<()> {
    let card = Card::open()?;
    let drv = card.get_driver().map_err(|e| anyhow!("VERSION: {e}"))?;
    let name = drv.name().to_string_lossy().into_owned();
    println!("DRIVER {name}");
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP atomic: {e}"))?;

    // The reference copies' destination, touched once so that no page faults are timed.
    let (bw, bh) = rbguest::parse_size(BIG)?;
    let mut pass = Pass {
        card: &card,
        ram: vec![0x55; usize::from(bw) * usize::from(bh) * 4],
        vram: Vram::open(&card),
        frames,
        opts,
    };

    // 1. Full frames at each size; at 1920x1080 also 2. small damage and 3. DIRTYFB.
    for size in FULL_MODES {
        let mut scr = Screen::new(&card, size)?;
        let r = pass.screen_workloads(&mut scr, size);
        scr.free(&card);
        r?;
    }

    // 4. Modesets between two modes, each with its own framebuffer.
    let a = pipe(&card, MODESET_MODES[0])?;
    let b = pipe(&card, MODESET_MODES[1])?;
    let (dba, fba) = buffer(&card, &a, 2)?;
    let (dbb, fbb) = buffer(&card, &b, 3)?;
    let r = modesets(&card, [(&a, fba), (&b, fbb)], switches, opts);
    for (db, fb) in [(dba, fba), (dbb, fbb)] {
        let _ = card.destroy_framebuffer(fb);
        let _ = card.destroy_dumb_buffer(db);
    }
    r
}

/// Switches between two modes `switches` times (legacy SETCRTC, which the atomic helpers
/// turn into a full modeset); prints the result.
pub fn modesets(
    card: &Card,
    modes: [(&Pipe, framebuffer::Handle); 2],
    switches: u32,
    opts: Opts,
) -> Result<()> {
    let name = format!("modeset-{}-{}", MODESET_MODES[0], MODESET_MODES[1]);
    let set = |i: u32| {
        let (p, fb) = modes[(i % 2) as usize];
        card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
            .map_err(|e| anyhow!("SETCRTC {}: {e}", rbguest::mode_name(&p.mode)))
    };
    for i in 0..WARMUP {
        set(i)?;
    }
    sync(opts.sync, "begin", &name)?;
    let before = counters(opts.counters);
    let mut l = Loop::default();
    let start = Instant::now();
    for i in WARMUP..WARMUP + switches {
        let (t, c) = (Instant::now(), cpu_now());
        set(i)?;
        l.cpu.push(cpu_now() - c);
        l.wall.push(t.elapsed().as_secs_f64());
    }
    l.total = start.elapsed().as_secs_f64();
    let after = counters(opts.counters);
    sync(opts.sync, "end", &name)?;
    // Half the switches go to each mode; a modeset copies a full frame of its mode.
    let frame = |p: &Pipe| {
        let (w, h) = p.mode.size();
        u64::from(w) * u64::from(h) * 4
    };
    let [(a, _), (b, _)] = modes;
    l.print(
        &name,
        None,
        (frame(a) + frame(b)) / 2,
        &Copied::between(before, after, None),
    );
    Ok(())
}
