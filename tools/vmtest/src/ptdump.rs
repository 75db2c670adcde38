// SPDX-License-Identifier: GPL-2.0
//! Reading `/sys/kernel/debug/kernel_page_tables`: which memory type a
//! driver's mapping of VRAM got.
//!
//! The guest captures the page-table dump before and after a driver binds;
//! the lines that are new describe what the driver mapped. The VRAM mapping
//! is the run of contiguous new ranges whose total size is the VRAM BAR's
//! size (a mapping may be split over several lines when it mixes block and
//! page entries).

use anyhow::anyhow;

use crate::Result;

/// One line of the dump.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    /// The attribute words after the size and level, e.g. `RW NX ... MEM/NORMAL`.
    pub attrs: Vec<String>,
}

impl Range {
    /// The memory type: arm64 prints it as `MEM/...` (e.g. `MEM/NORMAL-NC`).
    pub fn memtype(&self) -> Option<&str> {
        self.attrs
            .iter()
            .map(String::as_str)
            .find(|a| a.starts_with("MEM/"))
    }
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// Parses the range lines of a dump; headers and other lines are skipped.
pub fn parse(text: &str) -> Vec<Range> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (a, b) = words.next()?.split_once('-')?;
            let (start, end) = (hex(a)?, hex(b)?);
            // Size ("16M") and level ("PTE", "PMD", ...) come next.
            let _size = words.next()?;
            let _level = words.next()?;
            Some(Range {
                start,
                end,
                attrs: words.map(str::to_string).collect(),
            })
        })
        .collect()
}

/// A merged run of contiguous ranges that share a memory type.
#[derive(Debug, PartialEq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub memtype: String,
}

/// Finds, among `new` ranges, the contiguous run of exactly `size` bytes
/// with one memory type.
pub fn find_region(new: &[Range], size: u64) -> Result<Region> {
    let mut runs: Vec<Region> = Vec::new();
    let mut sorted = new.to_vec();
    sorted.sort_by_key(|r| r.start);
    for r in &sorted {
        let mt = r.memtype().unwrap_or("?").to_string();
        match runs.last_mut() {
            Some(last) if last.end == r.start && last.memtype == mt => last.end = r.end,
            _ => runs.push(Region {
                start: r.start,
                end: r.end,
                memtype: mt,
            }),
        }
    }
    let mut found = runs.into_iter().filter(|g| g.end - g.start == size);
    match (found.next(), found.next()) {
        (Some(g), None) => Ok(g),
        (None, _) => Err(anyhow!(
            "no new mapping of {size:#x} bytes among {} new page-table ranges:\n{}",
            new.len(),
            describe(new)
        )),
        (Some(a), Some(b)) => Err(anyhow!(
            "ambiguous: {a:x?} and {b:x?} are both {size:#x} bytes"
        )),
    }
}

fn describe(rs: &[Range]) -> String {
    rs.iter()
        .map(|r| format!("    {:#x}-{:#x} {}\n", r.start, r.end, r.attrs.join(" ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "\
---[ vmalloc() area ]---
0xffff800080000000-0xffff800080010000          64K PTE       RW NX SHD AF NG         UXN    MEM/NORMAL
0xffff800081000000-0xffff800081200000           2M PTE       RW NX SHD AF NG         UXN    MEM/NORMAL-NC
0xffff800081200000-0xffff800082000000          14M PMD       RW NX SHD AF NG BLK     UXN    MEM/NORMAL-NC
0xffff800082001000-0xffff800082002000           4K PTE       RW NX SHD AF NG         UXN    MEM/DEVICE/nGnRE
0xffff800083000000-0xffff800083300000           3M PTE       RW NX SHD AF NG         UXN    MEM/NORMAL
";

    #[test]
    fn parses_lines() {
        let rs = parse(DUMP);
        assert_eq!(rs.len(), 5);
        assert_eq!(rs[0].start, 0xffff_8000_8000_0000);
        assert_eq!(rs[0].end, 0xffff_8000_8001_0000);
        assert_eq!(rs[1].memtype(), Some("MEM/NORMAL-NC"));
        assert_eq!(rs[3].memtype(), Some("MEM/DEVICE/nGnRE"));
    }

    #[test]
    fn merges_split_mapping() -> Result<()> {
        let g = find_region(&parse(DUMP), 16 << 20)?;
        assert_eq!(g.memtype, "MEM/NORMAL-NC");
        assert_eq!(g.start, 0xffff_8000_8100_0000);
        Ok(())
    }

    #[test]
    fn does_not_merge_across_types_or_gaps() {
        let err = find_region(&parse(DUMP), (16 << 20) + 4096)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("no new mapping of 0x1001000 bytes"),
            "{err}"
        );
        assert_eq!(
            find_region(&parse(DUMP), 3 << 20).unwrap().memtype,
            "MEM/NORMAL"
        );
    }

    #[test]
    fn ambiguous_is_an_error() {
        let two = format!("{DUMP}0xffff800090000000-0xffff800090300000 3M PTE RW MEM/NORMAL\n");
        assert!(find_region(&parse(&two), 3 << 20)
            .unwrap_err()
            .to_string()
            .starts_with("ambiguous"));
    }
}
