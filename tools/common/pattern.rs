// SPDX-License-Identifier: GPL-2.0
//! Test patterns shared by the in-guest drawing program and the host-side
//! screenshot checker, so both sides agree on every pixel.

/// The XRGB8888 value of pixel (`x`, `y`) of pattern `seed`.
///
/// A per-pixel hash rather than bars or gradients: any shift, stride error,
/// swapped channel or stale line changes many pixels, so a pixel-exact
/// comparison catches it.
pub fn pixel(seed: u32, x: u32, y: u32) -> u32 {
    let mut h =
        seed.wrapping_mul(0x9e37_79b9) ^ x.wrapping_mul(0x85eb_ca6b) ^ y.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    h & 0x00ff_ffff
}
