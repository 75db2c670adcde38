// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Pixel formats (fourcc codes).
//!
//! C header: [`include/uapi/drm/drm_fourcc.h`](srctree/include/uapi/drm/drm_fourcc.h)

/// Builds a fourcc code from its four characters, as the C `fourcc_code()` macro does.
pub const fn fourcc(a: u8, b: u8, c: u8, d: u8) -> u32 {
    (a as u32) | ((b as u32) << 8) | ((c as u32) << 16) | ((d as u32) << 24)
}

/// 32 bits per pixel, `[31:0] x:R:G:B 8:8:8:8` little endian.
pub const XRGB8888: u32 = fourcc(b'X', b'R', b'2', b'4');
/// 32 bits per pixel, `[31:0] B:G:R:x 8:8:8:8` little endian.
pub const BGRX8888: u32 = fourcc(b'B', b'X', b'2', b'4');
/// 32 bits per pixel, `[31:0] A:R:G:B 8:8:8:8` little endian.
pub const ARGB8888: u32 = fourcc(b'A', b'R', b'2', b'4');
/// 32 bits per pixel, `[31:0] B:G:R:A 8:8:8:8` little endian.
pub const BGRA8888: u32 = fourcc(b'B', b'A', b'2', b'4');
/// 16 bits per pixel, `[15:0] R:G:B 5:6:5` little endian.
pub const RGB565: u32 = fourcc(b'R', b'G', b'1', b'6');

/// Bytes per pixel of a single-plane format without subsampling, or `None` for other formats.
pub fn bytes_per_pixel(format: u32) -> Option<u32> {
    // SAFETY: `__drm_format_info()` accepts any code and returns NULL for unknown ones (unlike
    // `drm_format_info()`, without a warning).
    let info = unsafe { crate::bindings::__drm_format_info(format) };
    if info.is_null() {
        return None;
    }
    // SAFETY: A non-NULL result points to a static table entry.
    let info = unsafe { &*info };
    if info.num_planes != 1 || info.hsub > 1 || info.vsub > 1 || info.block_w[0] > 1 {
        return None;
    }
    // SAFETY: `cpp` and `char_per_block` are both `u8` arrays; any bytes are valid for either.
    Some(unsafe { info.__bindgen_anon_1.cpp[0] }.into())
}

#[macros::kunit_tests(rust_drm_kms_format)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_codes_match_uapi() {
        // Values of DRM_FORMAT_* in include/uapi/drm/drm_fourcc.h.
        assert_eq!(XRGB8888, 0x3432_5258);
        assert_eq!(BGRX8888, 0x3432_5842);
        assert_eq!(ARGB8888, 0x3432_5241);
        assert_eq!(BGRA8888, 0x3432_4142);
        assert_eq!(RGB565, 0x3631_4752);
    }

    #[test]
    fn bytes_per_pixel_of_known_formats() {
        assert_eq!(bytes_per_pixel(XRGB8888), Some(4));
        assert_eq!(bytes_per_pixel(RGB565), Some(2));
        assert_eq!(bytes_per_pixel(fourcc(b'N', b'V', b'1', b'2')), None);
        assert_eq!(bytes_per_pixel(0), None);
    }
}
