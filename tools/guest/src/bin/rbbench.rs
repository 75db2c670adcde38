// SPDX-License-Identifier: GPL-2.0
//! In-guest benchmark of a KMS display driver: the same program runs on rbochs and on Linux's
//! C bochs driver, and the host (`vmtest bench`) compares what they print.
//!
//! ```text
//! rbbench kms FRAMES SWITCHES   one pass of every KMS workload, FRAMES updates each
//!                               (SWITCHES for the modeset one)
//! rbbench fbcon LINES           fbcon scrolling: LINES lines written to /dev/tty0
//! ```
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
//! - `damaged`: the bytes each update reported as damaged; `bytes`: the bytes the driver says
//!   it copied per update (rbochs's debugfs counters; `na` where a driver has none).
//!
//! The timed loops do nothing but draw and commit, or draw and copy; every lookup happens
//! before them.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::Instant;

use drm::buffer::Buffer;
use drm::control::{
    atomic::AtomicModeReq, dumbbuffer::DumbBuffer, framebuffer, plane, property, AtomicCommitFlags,
    ClipRect, Device as ControlDevice,
};
use drm::{ClientCapability, Device};
use rbguest::{
    buffer, driver_state, pipe, primary_plane, Card, DamageRect, Pipe, Result, SharedMap,
};
use rustix::time::{clock_gettime, ClockId};

/// Size of the damage rectangles of the small-damage workloads.
const TILE: u32 = 64;
/// The mode of the small-damage and DIRTYFB workloads.
const BIG: &str = "1920x1080";
/// The modes the full-frame workload runs at.
const FULL_MODES: [&str; 2] = ["1024x768", BIG];
/// The two modes the modeset workload switches between.
const MODESET_MODES: [&str; 2] = ["1024x768", "1280x1024"];
/// Damage rectangles per commit of the small-damage workloads.
const DAMAGE_COUNTS: [u32; 3] = [1, 8, 64];
/// Damage rectangles per DIRTYFB call of the partial DIRTYFB workload.
const DIRTY_COUNT: u32 = 8;
/// Updates before each timed loop, to let the pipeline settle.
const WARMUP: u32 = 2;
/// Full-frame updates (and copies) on each new screen before anything is measured.
const SETTLE_FRAMES: u32 = 30;

/// CPU time of the calling thread, in seconds.
fn cpu_now() -> f64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// The median of `v` (0 for none).
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A rectangle `x, y, w, h` in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

impl Rect {
    /// Its size in bytes of XRGB8888 pixels.
    fn bytes(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h) * 4
    }

    /// As an FB_DAMAGE_CLIPS rectangle.
    fn damage(&self) -> DamageRect {
        // Every rectangle lies within a mode of at most 65535 pixels a side.
        let c = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        DamageRect {
            x1: c(self.x),
            y1: c(self.y),
            x2: c(self.x + self.w),
            y2: c(self.y + self.h),
        }
    }

    /// Fails unless the rectangle lies within lines of `pitch` bytes.
    fn check_width(&self, pitch: usize) -> Result<()> {
        if (self.x as usize + self.w as usize) * 4 > pitch {
            return Err(format!(
                "rectangle {self:?} wider than a line of {pitch} bytes"
            ));
        }
        Ok(())
    }

    /// As a DIRTYFB clip.
    fn clip(&self) -> Result<ClipRect> {
        let c = |v: u32| u16::try_from(v).map_err(|_| format!("{v} too large for DIRTYFB"));
        Ok(ClipRect::new(
            c(self.x)?,
            c(self.y)?,
            c(self.x + self.w)?,
            c(self.y + self.h)?,
        ))
    }
}

/// `n` distinct 64x64 tiles spread evenly over a `w`x`h` screen (row-major cells).
fn tiles(n: u32, w: u32, h: u32) -> Result<Vec<Rect>> {
    let (cols, rows) = (w / TILE, h / TILE);
    let cells = cols * rows;
    if n == 0 || n > cells {
        return Err(format!("{n} tiles of {TILE}x{TILE} do not fit {w}x{h}"));
    }
    let step = cells / n;
    Ok((0..n)
        .map(|k| {
            let c = k * step;
            Rect {
                x: (c % cols) * TILE,
                y: (c / cols) * TILE,
                w: TILE,
                h: TILE,
            }
        })
        .collect())
}

/// A frame's worth of memory the client draws into: a mapped dumb buffer, or plain RAM for
/// the memcpy baseline.
struct Canvas<'a> {
    mem: &'a mut [u8],
    pitch: usize,
}

impl Canvas<'_> {
    /// Draws frame `i` inside `r`: horizontal bands that move with `i`, so every frame
    /// differs from the last one everywhere in the rectangle.
    fn draw(&mut self, r: &Rect, i: u32) -> Result<()> {
        r.check_width(self.pitch)?;
        let line = r.w as usize * 4;
        let a = 0x0020_4080u32.wrapping_add(i.wrapping_mul(0x0001_0305));
        let b = !a & 0x00ff_ffff;
        let row_a: Vec<u8> = a.to_le_bytes().repeat(r.w as usize);
        let row_b: Vec<u8> = b.to_le_bytes().repeat(r.w as usize);
        for y in r.y..r.y + r.h {
            let off = y as usize * self.pitch + r.x as usize * 4;
            let dst = self
                .mem
                .get_mut(off..off + line)
                .ok_or_else(|| format!("rectangle {r:?} outside the buffer"))?;
            let band = (y.wrapping_add(i.wrapping_mul(8)) / 32) % 2;
            dst.copy_from_slice(if band == 0 { &row_a } else { &row_b });
        }
        Ok(())
    }
}

/// Copies the rectangles `rects` from `src` to `dst` (both of `pitch` bytes per line), as a
/// driver copies damage into video memory.
fn copy_rects(dst: &mut [u8], src: &[u8], pitch: usize, rects: &[Rect]) -> Result<()> {
    for r in rects {
        r.check_width(pitch)?;
        let line = r.w as usize * 4;
        if line == pitch {
            // Whole lines: one copy, as the drivers make for a full frame.
            let off = r.y as usize * pitch;
            let len = r.h as usize * pitch;
            let (d, s) = (dst.get_mut(off..off + len), src.get(off..off + len));
            match (d, s) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => return Err(format!("rectangle {r:?} outside the buffer")),
            }
            continue;
        }
        for y in r.y..r.y + r.h {
            let off = y as usize * pitch + r.x as usize * 4;
            let (d, s) = (dst.get_mut(off..off + line), src.get(off..off + line));
            match (d, s) {
                (Some(d), Some(s)) => d.copy_from_slice(s),
                _ => return Err(format!("rectangle {r:?} outside the buffer")),
            }
        }
    }
    Ok(())
}

/// The driver's total copy counters, when it has them.
#[derive(Clone, Copy)]
struct Counters {
    commits: u64,
    bytes: u64,
    /// Time spent copying, in nanoseconds (rbochs only).
    copy_ns: Option<u64>,
}

fn counters(has: bool) -> Option<Counters> {
    if !has {
        return None;
    }
    let st = driver_state()?;
    let get = |key: &str| {
        st.lines()
            .filter_map(|l| l.split_once(": "))
            .find(|(k, _)| k.trim() == key)
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
    };
    Some(Counters {
        commits: get("commits")?,
        bytes: get("bytes")?,
        copy_ns: get("copy_ns"),
    })
}

/// What the driver copied per update between two counter readings, for the `BENCH` line:
/// `bytes=` and `copy_ms=` (the driver's own time in the copy).
struct Copied {
    bytes: String,
    copy_ms: String,
}

impl Copied {
    /// Per update, over `ops` updates (`None`: per commit the driver counted).
    fn between(before: Option<Counters>, after: Option<Counters>, ops: Option<u64>) -> Self {
        let na = || "na".to_string();
        let (Some(b), Some(a)) = (before, after) else {
            return Self {
                bytes: na(),
                copy_ms: na(),
            };
        };
        let n = ops.unwrap_or(a.commits.saturating_sub(b.commits));
        if n == 0 {
            return Self {
                bytes: na(),
                copy_ms: na(),
            };
        }
        let n = n as f64;
        Self {
            bytes: format!("{:.0}", (a.bytes - b.bytes) as f64 / n),
            copy_ms: match (b.copy_ns, a.copy_ns) {
                (Some(t0), Some(t1)) => format!("{:.4}", (t1 - t0) as f64 / n / 1e6),
                _ => na(),
            },
        }
    }
}

/// Timings of one loop.
#[derive(Default)]
struct Loop {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    /// The reference copies into RAM and into video memory.
    reference: Vec<f64>,
    vram: Vec<f64>,
    /// The whole loop of updates.
    total: f64,
}

impl Loop {
    /// Prints the `BENCH` line.
    fn print(mut self, name: &str, hz: Option<u32>, damaged: u64, copied: &Copied) {
        let ops = self.wall.len();
        let rate = if self.total > 0.0 {
            ops as f64 / self.total
        } else {
            0.0
        };
        let (memcpy, frac) = if self.reference.is_empty() {
            ("na".to_string(), "na".to_string())
        } else {
            let (m, c) = (median(&mut self.reference), median(&mut self.cpu.clone()));
            let frac = if c > 0.0 {
                format!("{:.4}", m / c)
            } else {
                "na".into()
            };
            (format!("{:.4}", m * 1e3), frac)
        };
        let hz = hz.map_or("na".into(), |h| h.to_string());
        let vram = if self.vram.is_empty() {
            "na".to_string()
        } else {
            format!("{:.4}", median(&mut self.vram) * 1e3)
        };
        println!(
            "BENCH {name} ops={ops} rate={rate:.3} hz={hz} wall_ms={:.4} cpu_ms={:.4} \
             memcpy_ms={memcpy} frac={frac} vram_ms={vram} damaged={damaged} bytes={} copy_ms={}",
            median(&mut self.wall) * 1e3,
            median(&mut self.cpu) * 1e3,
            copied.bytes,
            copied.copy_ms,
        );
        let _ = std::io::stdout().flush();
    }
}

/// What a damaged commit names: the framebuffer and the primary plane's properties.
#[derive(Clone, Copy)]
struct Target {
    fb: framebuffer::Handle,
    plane: plane::Handle,
    fb_id: property::Handle,
    damage: property::Handle,
}

impl Target {
    /// A blocking atomic commit of the same framebuffer with `clips` (an FB_DAMAGE_CLIPS
    /// blob) as its damage.
    fn commit(&self, card: &Card, clips: &[u8]) -> Result<()> {
        let mut bytes = clips.to_vec();
        let blob = drm_ffi::mode::create_property_blob(card.as_fd(), &mut bytes)
            .map_err(|e| format!("CREATEPROPBLOB: {e}"))?
            .blob_id;
        let mut req = AtomicModeReq::new();
        req.add_property(
            self.plane,
            self.fb_id,
            property::Value::Framebuffer(Some(self.fb)),
        );
        req.add_property(self.plane, self.damage, property::Value::Blob(blob.into()));
        let res = card
            .atomic_commit(AtomicCommitFlags::empty(), req)
            .map_err(|e| format!("ATOMIC: {e}"));
        let _ = card.destroy_property_blob(blob.into());
        res
    }
}

/// A mode set up for updates: a framebuffer of its size on screen.
struct Screen {
    pipe: Pipe,
    db: DumbBuffer,
    target: Target,
}

impl Screen {
    /// Sets mode `size` (`WxH`) with a new framebuffer.
    fn new(card: &Card, size: &str) -> Result<Screen> {
        let pipe = pipe(card, size)?;
        let (db, fb) = buffer(card, &pipe, 1)?;
        card.set_crtc(pipe.crtc, Some(fb), (0, 0), &[pipe.conn], Some(pipe.mode))
            .map_err(|e| format!("SETCRTC {size}: {e}"))?;
        let (plane, props) = primary_plane(card, &pipe)?;
        let target = Target {
            fb,
            plane,
            fb_id: props.get("FB_ID")?,
            damage: props.get("FB_DAMAGE_CLIPS")?,
        };
        Ok(Screen { pipe, db, target })
    }

    /// The mode's width and height.
    fn size(&self) -> (u32, u32) {
        let (w, h) = self.pipe.mode.size();
        (w.into(), h.into())
    }

    /// Frees the framebuffer and its buffer (the mode stays set).
    fn free(self, card: &Card) {
        let _ = card.destroy_framebuffer(self.target.fb);
        let _ = card.destroy_dumb_buffer(self.db);
    }
}

/// How a workload reports its damage.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// `FB_DAMAGE_CLIPS` on an atomic commit.
    Atomic,
    /// The `DIRTYFB` ioctl.
    DirtyFb,
}

/// The upper half of the device's video memory, mapped write-combined through sysfs.
struct Vram(SharedMap);

impl Vram {
    /// Maps video memory (PCI BAR 0) of `card`, if the kernel offers a write-combined mapping
    /// (a plain `resource0` mapping is Device memory on arm64, where memcpy's unaligned
    /// accesses fault).
    fn open(card: &Card) -> Option<Vram> {
        let st = rustix::fs::fstat(card.as_fd()).ok()?;
        let (maj, min) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
        let path = format!("/sys/dev/char/{maj}:{min}/device/resource0_wc");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        let len = usize::try_from(f.metadata().ok()?.len()).ok()?;
        SharedMap::new(&f, len, 0).ok().map(Vram)
    }

    /// The half of video memory above what any mode of the benchmark scans out.
    fn upper_half(&mut self) -> &mut [u8] {
        let all = self.0.as_mut_slice();
        let half = all.len() / 2;
        &mut all[half..]
    }
}

/// What the workloads of one `rbbench kms` pass share.
struct Pass<'a> {
    card: &'a Card,
    /// The destination of the reference copies: a frame of the largest mode, in RAM.
    ram: Vec<u8>,
    /// And in video memory, where the device has room for a second frame.
    vram: Option<Vram>,
    /// Updates per workload.
    frames: u32,
    /// The driver has rbochs's debugfs counters.
    has_counters: bool,
}

impl Pass<'_> {
    /// Draws `rects` every frame and reports them as damage, `frames` times, then copies the
    /// same rectangles into RAM as often; prints the result as workload `name`.
    fn damage_loop(
        &mut self,
        scr: &mut Screen,
        name: &str,
        rects: &[Rect],
        path: Path,
    ) -> Result<()> {
        let hz = scr.pipe.mode.vrefresh();
        let (l, copied) = self.measure(scr, rects, path, self.frames)?;
        let damaged = rects.iter().map(Rect::bytes).sum();
        l.print(name, Some(hz), damaged, &copied);
        Ok(())
    }

    /// The loops of [`Pass::damage_loop`]: the timings and what the driver copied per update.
    fn measure(
        &mut self,
        scr: &mut Screen,
        rects: &[Rect],
        path: Path,
        frames: u32,
    ) -> Result<(Loop, Copied)> {
        let (card, ram, has_counters) = (self.card, &mut self.ram[..], self.has_counters);
        let pitch = scr.db.pitch() as usize;
        let frame = pitch * scr.size().1 as usize;
        let blob = rbguest::damage_blob_bytes(&rects.iter().map(Rect::damage).collect::<Vec<_>>());
        let clips = rects.iter().map(Rect::clip).collect::<Result<Vec<_>>>()?;
        let target = scr.target;
        let update = || match path {
            Path::Atomic => target.commit(card, &blob),
            Path::DirtyFb => card
                .dirty_framebuffer(target.fb, &clips)
                .map_err(|e| format!("DIRTYFB: {e}")),
        };
        let mut map = card
            .map_dumb_buffer(&mut scr.db)
            .map_err(|e| format!("MAP_DUMB: {e}"))?;
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
    fn screen_workloads(&mut self, scr: &mut Screen, size: &str) -> Result<()> {
        let (w, h) = scr.size();
        let full = [Rect { x: 0, y: 0, w, h }];
        // Under TCG the first second or so of copies on a new screen runs much slower than
        // the rest (a warm-up of QEMU's, not of the driver's): spend it unmeasured.
        self.measure(scr, &full, Path::Atomic, SETTLE_FRAMES)?;
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
fn kms(frames: &str, switches: &str) -> Result<()> {
    let frames: u32 = frames
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("bad frame count '{frames}'"))?;
    let switches: u32 = switches
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("bad switch count '{switches}'"))?;
    let card = Card::open()?;
    let drv = card.get_driver().map_err(|e| format!("VERSION: {e}"))?;
    let name = drv.name().to_string_lossy().into_owned();
    println!("DRIVER {name}");
    let has_counters = name == "rbochs";
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| format!("SET_CLIENT_CAP atomic: {e}"))?;

    // The reference copies' destination, touched once so that no page faults are timed.
    let (bw, bh) = rbguest::parse_size(BIG)?;
    let mut pass = Pass {
        card: &card,
        ram: vec![0x55; usize::from(bw) * usize::from(bh) * 4],
        vram: Vram::open(&card),
        frames,
        has_counters,
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
    let r = modesets(&card, [(&a, fba), (&b, fbb)], switches, has_counters);
    for (db, fb) in [(dba, fba), (dbb, fbb)] {
        let _ = card.destroy_framebuffer(fb);
        let _ = card.destroy_dumb_buffer(db);
    }
    r
}

/// Switches between two modes `switches` times (legacy SETCRTC, which the atomic helpers
/// turn into a full modeset); prints the result.
fn modesets(
    card: &Card,
    modes: [(&Pipe, framebuffer::Handle); 2],
    switches: u32,
    has_counters: bool,
) -> Result<()> {
    let set = |i: u32| {
        let (p, fb) = modes[(i % 2) as usize];
        card.set_crtc(p.crtc, Some(fb), (0, 0), &[p.conn], Some(p.mode))
            .map_err(|e| format!("SETCRTC {}: {e}", rbguest::mode_name(&p.mode)))
    };
    for i in 0..WARMUP {
        set(i)?;
    }
    let before = counters(has_counters);
    let mut l = Loop::default();
    let start = Instant::now();
    for i in WARMUP..WARMUP + switches {
        let (t, c) = (Instant::now(), cpu_now());
        set(i)?;
        l.cpu.push(cpu_now() - c);
        l.wall.push(t.elapsed().as_secs_f64());
    }
    l.total = start.elapsed().as_secs_f64();
    let after = counters(has_counters);
    // Half the switches go to each mode; a modeset copies a full frame of its mode.
    let frame = |p: &Pipe| {
        let (w, h) = p.mode.size();
        u64::from(w) * u64::from(h) * 4
    };
    let [(a, _), (b, _)] = modes;
    l.print(
        &format!("modeset-{}-{}", MODESET_MODES[0], MODESET_MODES[1]),
        None,
        (frame(a) + frame(b)) / 2,
        &Copied::between(before, after, None),
    );
    Ok(())
}

/// Processes that hold a DRM device open (`pid comm`).
fn drm_holders() -> Vec<String> {
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
fn fbcon_bound() -> bool {
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
fn sysfs_driver() -> String {
    (0..16)
        .map(|n| format!("/sys/class/drm/card{n}/device/driver"))
        .find_map(|p| std::fs::read_link(p).ok())
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "none".into())
}

/// Busy CPU time of the whole guest so far, in seconds (`/proc/stat`, in clock ticks of
/// 1/100 s).
fn busy_now() -> Result<f64> {
    let st = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    let line = st
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or("/proc/stat has no cpu line")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| {
            x.parse()
                .map_err(|_| format!("bad /proc/stat line '{line}'"))
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
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// fbcon scrolling: `lines` lines of text written to the console, no DRM client open.
fn fbcon(lines: &str) -> Result<()> {
    let lines: u32 = lines
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("bad line count '{lines}'"))?;
    let holders = drm_holders();
    if !holders.is_empty() {
        return Err(format!(
            "a DRM client holds the card, fbcon would not draw: {}",
            holders.join(", ")
        ));
    }
    if !fbcon_bound() {
        return Err("fbcon is not bound to a framebuffer".into());
    }
    let drv = sysfs_driver();
    println!("DRIVER {drv}");
    let has_counters = drv == "rbochs";
    let mut tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty0")
        .map_err(|e| format!("open /dev/tty0: {e}"))?;
    // Clear the screen and home the cursor; then lines shorter than the narrowest console
    // (128 columns at 1024x768), so each is one line on screen.
    tty.write_all(b"\x1b[2J\x1b[H")
        .map_err(|e| format!("write /dev/tty0: {e}"))?;
    std::thread::sleep(SETTLE);
    let text: Vec<Vec<u8>> = (0..lines)
        .map(|i| {
            let fill: String = (0..90)
                .map(|k| char::from(b'!' + ((i + k) % 94) as u8))
                .collect();
            format!("rbbench {i:6} {fill}\n").into_bytes()
        })
        .collect();
    let before = counters(has_counters);
    let busy = busy_now()?;
    let mut l = Loop::default();
    let start = Instant::now();
    for t in &text {
        let w = Instant::now();
        tty.write_all(t)
            .map_err(|e| format!("write /dev/tty0: {e}"))?;
        l.wall.push(w.elapsed().as_secs_f64());
    }
    l.total = start.elapsed().as_secs_f64();
    // The copies into video memory run in the fbdev helper's worker: let it finish, and count
    // the whole guest's CPU time.
    std::thread::sleep(SETTLE);
    let busy = busy_now()? - busy;
    l.cpu = vec![busy / f64::from(lines)];
    let after = counters(has_counters);
    l.print(
        "fbcon",
        None,
        0,
        &Copied::between(before, after, Some(u64::from(lines))),
    );
    Ok(())
}

fn run(args: &[String]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["kms", frames, switches] => kms(frames, switches),
        ["fbcon", lines] => fbcon(lines),
        _ => Err("usage: rbbench kms FRAMES SWITCHES | fbcon LINES".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rbbench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_distinct_and_inside() -> Result<()> {
        for n in [1, 8, 64] {
            let t = tiles(n, 1920, 1080)?;
            assert_eq!(t.len(), n as usize);
            for (i, a) in t.iter().enumerate() {
                assert!(a.x + a.w <= 1920 && a.y + a.h <= 1080, "{a:?}");
                for b in &t[i + 1..] {
                    let apart = a.x + a.w <= b.x
                        || b.x + b.w <= a.x
                        || a.y + a.h <= b.y
                        || b.y + b.h <= a.y;
                    assert!(apart, "{a:?} overlaps {b:?}");
                }
            }
        }
        assert!(tiles(0, 1920, 1080).is_err());
        assert!(tiles(1000, 1920, 1080).is_err());
        Ok(())
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn rect_copies_stay_inside() -> Result<()> {
        let pitch = 16 * 4;
        let mut src = vec![0u8; pitch * 16];
        let mut c = Canvas {
            mem: &mut src,
            pitch,
        };
        let r = Rect {
            x: 4,
            y: 4,
            w: 8,
            h: 8,
        };
        c.draw(&r, 3)?;
        let mut dst = vec![0u8; pitch * 16];
        copy_rects(&mut dst, &src, pitch, &[r])?;
        assert_eq!(dst, src);
        let out = Rect {
            x: 12,
            y: 0,
            w: 8,
            h: 1,
        };
        assert!(copy_rects(&mut dst, &src, pitch, &[out]).is_err());
        Ok(())
    }
}
