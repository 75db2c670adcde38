// SPDX-License-Identifier: GPL-2.0
//! Damage: only the rectangles a client reports are copied to the screen.

use std::path::Path;

use anyhow::anyhow;

use super::guest::{parse_state, state_value, with_client};
use crate::image::Image;
use crate::pattern;
use crate::vm::Vm;
use crate::Result;

/// A rectangle `(x, y, w, h)`.
pub type Rect = (u32, u32, u32, u32);

fn inside(r: Rect, x: u32, y: u32) -> bool {
    x >= r.0 && x < r.0 + r.2 && y >= r.1 && y < r.1 + r.3
}

/// Shows pattern `a`, redraws the whole buffer with `b` but reports only `rect` as damaged
/// (through `how`: `atomic` or `dirtyfb`), and checks the screen: `b` inside the rectangle, `a`
/// everywhere else. With `counters`, also checks the driver copied just the rectangle.
pub fn check_damage(vm: &mut Vm, out: &Path, how: &str, rect: Rect, counters: bool) -> Result<()> {
    let shot = out.join(format!("damage-{how}.png"));
    with_damage(vm, how, rect, |vm, state| {
        vm.screendump(&shot)?;
        let img = Image::load(&shot)?;
        img.compare(|x, y| pattern::pixel(damaged_seed(rect, x, y), x, y))
            .map_err(|e| anyhow!("{}: {e}", shot.display()))?;
        if counters {
            check_copied(state, rect)?;
        }
        Ok(())
    })
}

/// Seeds of the damage test: `DAMAGE_A` shown first, `DAMAGE_B` drawn everywhere next.
const DAMAGE_A: u32 = 11;

const DAMAGE_B: u32 = 12;

/// The pattern a pixel should show after the damage test: the new one only where damaged.
fn damaged_seed(rect: Rect, x: u32, y: u32) -> u32 {
    if inside(rect, x, y) {
        DAMAGE_B
    } else {
        DAMAGE_A
    }
}

/// The driver copied exactly the damaged rectangle in the last update. Double-buffered, the
/// hidden frame also lacks the update before, which reported the same rectangle: one copy
/// covers both.
fn check_copied(state: &[(String, String)], rect: Rect) -> Result<()> {
    let last = state_value(state, "last_bytes")?;
    let want = u64::from(rect.2 * rect.3 * 4);
    if last != want {
        return Err(anyhow!(
            "the damaged update copied {last} bytes, want {want}"
        ));
    }
    Ok(())
}

/// Runs the guest's damage program at 1024x768 and calls `check` while it holds the update,
/// with the driver state it printed (`STATE key: value` lines, empty for C bochs).
fn with_damage(
    vm: &mut Vm,
    how: &str,
    rect: Rect,
    check: impl FnOnce(&mut Vm, &[(String, String)]) -> Result<()>,
) -> Result<()> {
    let cmd = format!(
        "rbguest damage 1024x768 {DAMAGE_A} {DAMAGE_B} {} {} {} {} {how}",
        rect.0, rect.1, rect.2, rect.3
    );
    with_client(vm, &cmd, |vm, lines| {
        let state = parse_state(lines.iter().filter_map(|l| l.strip_prefix("STATE ")));
        check(vm, &state)
    })
}

/// 64-bit FNV-1a, the checksum the KMS sample reports of its image.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The checksum of a `w`x`h` XRGB8888 image whose pixel (x, y) comes from pattern `seed(x, y)`.
fn image_checksum(w: u32, h: u32, seed: impl Fn(u32, u32) -> u32) -> u64 {
    let mut bytes = Vec::with_capacity(w as usize * h as usize * 4);
    for y in 0..h {
        for x in 0..w {
            bytes.extend_from_slice(&pattern::pixel(seed(x, y), x, y).to_le_bytes());
        }
    }
    fnv1a(&bytes)
}

/// Damage on the virtual display of the KMS sample: the image it holds afterwards (by its
/// checksum) is the old pattern with just the damaged rectangle of the new one.
pub fn check_virtual_damage(vm: &mut Vm, how: &str, rect: Rect) -> Result<()> {
    with_damage(vm, how, rect, |_, state| {
        check_copied(state, rect)?;
        let got = state
            .iter()
            .find(|(k, _)| k == "checksum")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| anyhow!("no checksum in the sample's state: {state:?}"))?;
        let want = format!(
            "{:016x}",
            image_checksum(1024, 768, |x, y| damaged_seed(rect, x, y))
        );
        let all_new = format!("{:016x}", image_checksum(1024, 768, |_, _| DAMAGE_B));
        if got == all_new {
            return Err(anyhow!(
                "the display took the whole new frame, not just the damage"
            ));
        }
        if got != want {
            return Err(anyhow!("image checksum {got}, want {want}"));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_vectors() {
        // The published 64-bit FNV-1a test vectors; the KMS sample computes the same.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn rect_membership() {
        assert!(inside((10, 10, 4, 4), 10, 13));
        assert!(!inside((10, 10, 4, 4), 14, 10));
    }
}
