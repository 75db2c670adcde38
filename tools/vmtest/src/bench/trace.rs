// SPDX-License-Identifier: GPL-2.0
//! Device register accesses, counted host-side from QEMU's own trace events.
//!
//! QEMU traces every access to an I/O memory region it emulates as `memory_region_ops_read`
//! and `memory_region_ops_write`, with the region's name:
//!
//! ```text
//! memory_region_ops_write cpu 0 mr 0x55d0c0 addr 0x11010508 value 0x0 size 2 name 'bochs dispi interface'
//! ```
//!
//! Both device variants (std-VGA and bochs-display) name their MMIO regions alike ("bochs
//! dispi interface", "qemu extended regs", "edid", and std-VGA's "vga ioports remapped"),
//! which the device-specific events (`vga_vbe_write`, std-VGA only, data writes only) do
//! not cover. Video memory is RAM to QEMU: the copies themselves are not traced. Under KVM
//! each of these accesses is an exit to QEMU.
//!
//! vmtest switches the events on and off over QMP (`trace-event-set-state`) around each
//! workload's timed updates in a dedicated short pass, with QEMU's log (the `log` trace
//! backend) going to a file (`-trace file=...`).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde_json::json;

use crate::vm::Vm;
use crate::Result;

/// The events vmtest enables.
pub const EVENTS: [&str; 2] = ["memory_region_ops_read", "memory_region_ops_write"];

/// The register blocks of the display device, by QEMU's region names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Block {
    /// The DISPI (VBE) registers: mode, virtual size, scanout offsets.
    Dispi,
    /// QEMU's extended registers (framebuffer byte order).
    Qext,
    /// Legacy VGA registers.
    Vga,
    /// The EDID blob.
    Edid,
}

impl Block {
    fn of(region: &str) -> Option<Block> {
        Some(match region {
            "bochs dispi interface" | "vbe" => Block::Dispi,
            "qemu extended regs" => Block::Qext,
            "vga ioports remapped" | "vga" => Block::Vga,
            "edid" => Block::Edid,
            _ => return None,
        })
    }
}

/// The DISPI registers by index.
const DISPI: [&str; 11] = [
    "ID",
    "XRES",
    "YRES",
    "BPP",
    "ENABLE",
    "BANK",
    "VIRT_WIDTH",
    "VIRT_HEIGHT",
    "X_OFFSET",
    "Y_OFFSET",
    "VIDEO_MEMORY_64K",
];

/// One traced access to the display device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub write: bool,
    pub block: Block,
    /// The register's name (DISPI, QEMU's extended registers) or the block and offset.
    pub reg: String,
}

/// Parses a trace line; `None` for other events and other devices' regions. Lines may carry
/// the log's `pid@seconds:` prefix.
pub fn parse(line: &str) -> Option<Access> {
    let ev = line.split_whitespace().next()?;
    let ev = ev.rsplit_once(':').map_or(ev, |(_, e)| e);
    let write = match ev {
        "memory_region_ops_write" => true,
        "memory_region_ops_read" => false,
        _ => return None,
    };
    let (_, name) = line.split_once(" name '")?;
    let block = Block::of(name.strip_suffix('\'')?)?;
    let mut words = line.split_whitespace();
    let addr = words
        .by_ref()
        .skip_while(|w| *w != "addr")
        .nth(1)
        .and_then(|a| u64::from_str_radix(a.strip_prefix("0x")?, 16).ok())?;
    // The MMIO BAR puts the DISPI registers at 0x500, 2 bytes each; as I/O ports (x86
    // legacy "vbe") there is one index and one data port, so no register name.
    let reg = match block {
        Block::Dispi if addr & 0xf00 == 0x500 => DISPI
            .get(((addr & 0xff) >> 1) as usize)
            .map_or_else(|| format!("DISPI+0x{:x}", addr & 0xff), |r| r.to_string()),
        Block::Dispi => "DISPI port".into(),
        // QEMU's extended registers: their size, then the framebuffer's byte order.
        Block::Qext => match addr & 0xff {
            0 => "QEXT_SIZE".into(),
            4 => "BYTEORDER".into(),
            o => format!("QEXT+0x{o:x}"),
        },
        Block::Vga => "VGA".into(),
        Block::Edid => "EDID".into(),
    };
    Some(Access { write, block, reg })
}

/// Accesses counted over a stretch of trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub reads: f64,
    pub writes: f64,
    /// Writes by register.
    pub written: BTreeMap<String, f64>,
}

impl Counts {
    /// Counts the accesses in `text`.
    pub fn of(text: &str) -> Counts {
        let mut c = Counts::default();
        for a in text.lines().filter_map(parse) {
            if a.write {
                c.writes += 1.0;
                *c.written.entry(a.reg).or_default() += 1.0;
            } else {
                c.reads += 1.0;
            }
        }
        c
    }

    /// Per update, over `ops` updates.
    pub fn per(&self, ops: u64) -> Counts {
        let n = ops.max(1) as f64;
        Counts {
            reads: self.reads / n,
            writes: self.writes / n,
            written: self
                .written
                .iter()
                .map(|(k, v)| (k.clone(), v / n))
                .collect(),
        }
    }

    /// The writes by register, most first: `Y_OFFSET 1, ENABLE 2`.
    pub fn show_written(&self) -> String {
        let mut v: Vec<_> = self.written.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        let s: Vec<String> = v
            .iter()
            .map(|(k, n)| format!("{k} {}", trim(**n)))
            .collect();
        if s.is_empty() {
            "none".into()
        } else {
            s.join(", ")
        }
    }
}

/// A count per update, without trailing zeros: `2`, `0.5`, `1.33`.
pub fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The trace log QEMU writes, read in stretches.
pub struct Tracer {
    path: PathBuf,
    pos: u64,
}

impl Tracer {
    /// The QEMU arguments that send the trace log to `path`.
    pub fn args(path: &Path) -> Vec<String> {
        vec!["-trace".into(), format!("file={}", path.display())]
    }

    pub fn new(path: &Path) -> Tracer {
        Tracer {
            path: path.to_path_buf(),
            pos: 0,
        }
    }

    /// Switches the events on or off.
    pub fn set(&self, vm: &mut Vm, on: bool) -> Result<()> {
        for name in EVENTS {
            vm.qmp_execute(
                "trace-event-set-state",
                json!({ "name": name, "enable": on }),
            )
            .map_err(|e| anyhow!("tracing {name}: {e}"))?;
        }
        Ok(())
    }

    /// Switches the events on, skipping whatever the log holds so far.
    pub fn begin(&mut self, vm: &mut Vm) -> Result<()> {
        self.pos = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        self.set(vm, true)
    }

    /// Switches the events off and counts what was traced since [`Tracer::begin`].
    pub fn end(&mut self, vm: &mut Vm) -> Result<Counts> {
        self.set(vm, false)?;
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            // Nothing traced yet: QEMU opens its log on the first message.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Counts::default()),
            Err(e) => return Err(anyhow!("{}: {e}", self.path.display())),
        };
        f.seek(SeekFrom::Start(self.pos))
            .map_err(|e| anyhow!("{}: {e}", self.path.display()))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| anyhow!("{}: {e}", self.path.display()))?;
        self.pos += buf.len() as u64;
        Ok(Counts::of(&String::from_utf8_lossy(&buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trace_lines() {
        let w = "memory_region_ops_write cpu 0 mr 0x564a1ff32400 addr 0x11010512 value 0x438 \
                 size 2 name 'bochs dispi interface'";
        assert_eq!(
            parse(w),
            Some(Access {
                write: true,
                block: Block::Dispi,
                reg: "Y_OFFSET".into()
            })
        );
        let r = "1234@1700000000.000001:memory_region_ops_read cpu 1 mr 0x5 addr 0x11010500 \
                 value 0xb0c5 size 2 name 'bochs dispi interface'";
        assert_eq!(
            parse(r).map(|a| (a.write, a.reg)),
            Some((false, "ID".into()))
        );
        let q = "memory_region_ops_write cpu 0 mr 0x5 addr 0x11010604 value 0x1e1e1e1e size 4 \
                 name 'qemu extended regs'";
        assert_eq!(parse(q).map(|a| a.reg), Some("BYTEORDER".into()));
        let v = "memory_region_ops_write cpu 0 mr 0x5 addr 0x11010402 value 0x1 size 1 \
                 name 'vga ioports remapped'";
        assert_eq!(parse(v).map(|a| a.block), Some(Block::Vga));
        // Other devices, other events.
        for other in [
            "memory_region_ops_write cpu 0 mr 0x5 addr 0x9000000 value 0x41 size 2 name 'pl011'",
            "vga_vbe_write index 0x4, val 0x0",
            "memory_region_ops_write cpu 0 mr 0x5 addr 0x11010500 value 0x0 size 2",
            "",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn counts_per_update() {
        let line = |rw: &str, addr: u32| {
            format!(
                "memory_region_ops_{rw} cpu 0 mr 0x1 addr 0x{addr:x} value 0x0 size 2 \
                 name 'bochs dispi interface'\n"
            )
        };
        let mut t = String::new();
        for _ in 0..4 {
            t += &line("write", 0x11010512);
            t += "memory_region_ops_write cpu 0 mr 0x2 addr 0x9000000 value 0x41 size 2 name 'pl011'\n";
        }
        t += &line("write", 0x11010508);
        t += &line("write", 0x11010508);
        t += &line("read", 0x11010500);
        let c = Counts::of(&t);
        assert_eq!((c.reads, c.writes), (1.0, 6.0));
        let p = c.per(4);
        assert_eq!((p.reads, p.writes), (0.25, 1.5));
        assert_eq!(p.show_written(), "Y_OFFSET 1, ENABLE 0.5");
        assert_eq!(Counts::default().show_written(), "none");
        assert_eq!(trim(1.0 / 3.0), "0.33");
    }
}
