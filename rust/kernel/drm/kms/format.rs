// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Pixel formats (fourcc codes).
//!
//! C header: [`include/uapi/drm/drm_fourcc.h`](srctree/include/uapi/drm/drm_fourcc.h)

use crate::bindings;

/// A pixel format: a `DRM_FORMAT_*` fourcc code of `include/uapi/drm/drm_fourcc.h`.
///
/// The constants are the uapi ones, as the bindings export them; a [`Format`] read from a
/// framebuffer is one the DRM core accepted, hence one it has a `struct drm_format_info` for.
///
/// Only the formats drivers here offer are defined.
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::format::Format;
///
/// // A plane's formats, preferred first.
/// const FORMATS: [Format; 2] = [Format::XRGB8888, Format::ARGB8888];
/// assert!(FORMATS[0] != FORMATS[1]);
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Format(u32);

impl Format {
    /// 32 bits per pixel, `[31:0] x:R:G:B 8:8:8:8` little endian.
    pub const XRGB8888: Self = Self(bindings::DRM_FORMAT_XRGB8888);
    /// 32 bits per pixel, `[31:0] B:G:R:x 8:8:8:8` little endian.
    pub const BGRX8888: Self = Self(bindings::DRM_FORMAT_BGRX8888);
    /// 32 bits per pixel, `[31:0] A:R:G:B 8:8:8:8` little endian.
    pub const ARGB8888: Self = Self(bindings::DRM_FORMAT_ARGB8888);
    /// 32 bits per pixel, `[31:0] B:G:R:A 8:8:8:8` little endian.
    pub const BGRA8888: Self = Self(bindings::DRM_FORMAT_BGRA8888);

    /// Wraps a fourcc code the DRM core handed out (e.g. a framebuffer's).
    pub(crate) fn from_raw(code: u32) -> Self {
        Self(code)
    }

    /// The C description of the format, if the DRM core knows it.
    fn info(self) -> Option<&'static bindings::drm_format_info> {
        // SAFETY: `__drm_format_info()` accepts any code and returns NULL for unknown ones
        // (unlike `drm_format_info()`, without a warning); a non-NULL result points into a
        // static table.
        unsafe { bindings::__drm_format_info(self.0).as_ref() }
    }

    /// Whether the format has an alpha channel (`false` for a code the DRM core does not know).
    fn has_alpha(self) -> bool {
        self.info().is_some_and(|info| info.has_alpha)
    }

    /// Whether any of `formats` has an alpha channel.
    pub(crate) fn any_has_alpha(formats: &[Self]) -> bool {
        formats.iter().any(|f| f.has_alpha())
    }
}

impl core::fmt::Debug for Format {
    /// The four characters of the code, as `drm_print_format_info()`-style logs show them.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.0.to_le_bytes() {
            let c = if b.is_ascii_graphic() { b as char } else { '?' };
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[macros::kunit_tests(rust_drm_kms_format)]
mod tests {
    use super::*;

    #[test]
    fn format_properties() {
        assert!(Format::BGRA8888.has_alpha());
        assert!(!Format::BGRX8888.has_alpha());
        assert!(Format::any_has_alpha(&[Format::XRGB8888, Format::ARGB8888]));
        assert!(!Format::any_has_alpha(&[
            Format::XRGB8888,
            Format::BGRX8888
        ]));
    }

    #[test]
    fn unknown_formats() {
        // 0 is no format at all.
        assert!(!Format::from_raw(0).has_alpha());
    }

    #[test]
    fn format_names() {
        assert!(name_is(Format::XRGB8888, b"XR24"));
        assert!(name_is(Format::BGRA8888, b"BA24"));
    }

    fn name_is(f: Format, name: &[u8]) -> bool {
        crate::str::CString::try_from_fmt(crate::prelude::fmt!("{f:?}"))
            .is_ok_and(|s| s.to_bytes() == name)
    }
}
