// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Damage tracking: which parts of a plane changed in a commit.
//!
//! C header: [`include/drm/drm_damage_helper.h`](srctree/include/drm/drm_damage_helper.h)
//!
//! Userspace reports damage with the `FB_DAMAGE_CLIPS` plane property or `DRM_IOCTL_MODE_DIRTYFB`;
//! the fbdev emulation reports what its deferred I/O saw written. The atomic helpers turn all of
//! them into damage clips of the new plane state, and [`DamageIter`] yields those clips, clipped
//! to the plane's source rectangle. A commit that changes the framebuffer or the source rectangle,
//! or that has no damage information, yields the whole plane once.

use super::plane::PlaneState;
use crate::{
    bindings,
    types::NotThreadSafe, //
};
use core::mem::MaybeUninit;

/// A rectangle in framebuffer coordinates: `x1 <= x < x2`, `y1 <= y < y2` (`struct drm_rect`).
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::damage::Rect;
///
/// let r = Rect::new(16, 8, 64, 32).ok_or(EINVAL)?;
/// assert_eq!((r.x2, r.y2, r.width(), r.height()), (80, 40, 64, 32));
/// assert!(r.is_within(80, 40));
/// assert!(!r.is_within(79, 40));
/// assert!(Rect::new(i32::MAX, 0, 1, 1).is_none());
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    /// Left edge, inclusive.
    pub x1: i32,
    /// Top edge, inclusive.
    pub y1: i32,
    /// Right edge, exclusive.
    pub x2: i32,
    /// Bottom edge, exclusive.
    pub y2: i32,
}

impl Rect {
    /// A rectangle from its origin and size, or `None` if it does not fit in `i32`.
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Option<Self> {
        Some(Self {
            x1: x,
            y1: y,
            x2: x.checked_add(i32::try_from(width).ok()?)?,
            y2: y.checked_add(i32::try_from(height).ok()?)?,
        })
    }

    /// Width in pixels; zero for an empty or inverted rectangle.
    pub fn width(&self) -> u32 {
        u32::try_from(self.x2.saturating_sub(self.x1)).unwrap_or(0)
    }

    /// Height in lines; zero for an empty or inverted rectangle.
    pub fn height(&self) -> u32 {
        u32::try_from(self.y2.saturating_sub(self.y1)).unwrap_or(0)
    }

    /// Whether the rectangle covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.width() == 0 || self.height() == 0
    }

    /// Whether the rectangle is non-empty and lies within `[0, width) x [0, height)`.
    pub fn is_within(&self, width: u32, height: u32) -> bool {
        !self.is_empty()
            && self.x1 >= 0
            && self.y1 >= 0
            && self.x2 as u32 <= width
            && self.y2 as u32 <= height
    }

    fn from_raw(r: &bindings::drm_rect) -> Self {
        Self {
            x1: r.x1,
            y1: r.y1,
            x2: r.x2,
            y2: r.y2,
        }
    }
}

/// The end of `rows` lines of `line` bytes, `pitch` bytes apart, starting at `offset`.
///
/// `None` if the lines would overlap (`line > pitch` with more than one row) or the end does
/// not fit in `usize`; `Some(offset)` when there is nothing to copy.
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::damage::rows_end;
///
/// // Two lines of 8 bytes, 16 bytes apart, from offset 4: bytes 4..12 and 20..28.
/// assert_eq!(rows_end(4, 16, 8, 2), Some(28));
/// assert_eq!(rows_end(0, 16, 32, 2), None);
/// assert_eq!(rows_end(usize::MAX - 4, 16, 8, 1), None);
/// ```
pub fn rows_end(offset: usize, pitch: usize, line: usize, rows: usize) -> Option<usize> {
    if rows == 0 || line == 0 {
        return Some(offset);
    }
    if rows > 1 && line > pitch {
        return None;
    }
    (rows - 1)
        .checked_mul(pitch)?
        .checked_add(offset)?
        .checked_add(line)
}

impl PlaneState {
    /// The part of the framebuffer the plane shows, in whole pixels: the clipped source
    /// rectangle the atomic check computed, rounded outwards as [`DamageIter`] rounds the
    /// whole plane. Empty before the check and while the plane is invisible.
    pub fn src(&self) -> Rect {
        // SAFETY: The state is valid while borrowed, and not changed by anyone while a hook
        // sees it (type invariant of `PlaneState`).
        let src = unsafe { (*self.as_raw()).src };
        let ceil = |v: i32| (v >> 16) + i32::from(v & 0xffff != 0);
        Rect {
            x1: src.x1 >> 16,
            y1: src.y1 >> 16,
            x2: ceil(src.x2),
            y2: ceil(src.y2),
        }
    }
}

/// What copying the damage of a plane update did (see
/// [`ShadowPlaneState::copy_damage`](super::gem_atomic_helper::ShadowPlaneState::copy_damage)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DamageCopy {
    /// Rectangles copied.
    pub rects: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Rectangles that could not be copied.
    pub failed: u64,
    /// The first rectangle that could not be copied, and why.
    pub first_error: Option<(Rect, crate::error::Error)>,
    /// Time spent copying, in nanoseconds.
    pub ns: u64,
}

impl DamageCopy {
    /// Counts the outcome of copying `clip`.
    pub fn add(&mut self, clip: &Rect, copied: crate::error::Result<usize>) {
        match copied {
            Ok(n) => {
                self.rects += 1;
                self.bytes += n as u64;
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert((*clip, e));
            }
        }
    }
}

/// Iterator over the damage clips of a plane update (`struct drm_atomic_helper_damage_iter`).
pub struct DamageIter<'a> {
    iter: bindings::drm_atomic_helper_damage_iter,
    _states: core::marker::PhantomData<&'a PlaneState>,
    _not_send: NotThreadSafe,
}

impl<'a> DamageIter<'a> {
    /// Iterates over the damage of the update from `old` to `new`.
    pub fn new(old: &'a PlaneState, new: &'a PlaneState) -> Self {
        let mut iter = MaybeUninit::<bindings::drm_atomic_helper_damage_iter>::uninit();
        // SAFETY: Both states are valid plane states of the same plane for `'a`; the helper fully
        // initialises `iter`, which keeps pointers into `new`'s damage blob, borrowed for `'a`.
        unsafe {
            bindings::drm_atomic_helper_damage_iter_init(
                iter.as_mut_ptr(),
                old.as_raw(),
                new.as_raw(),
            )
        };
        Self {
            // SAFETY: Initialised just above.
            iter: unsafe { iter.assume_init() },
            _states: core::marker::PhantomData,
            _not_send: NotThreadSafe,
        }
    }
}

impl Iterator for DamageIter<'_> {
    type Item = Rect;

    fn next(&mut self) -> Option<Rect> {
        let mut r = bindings::drm_rect::default();
        // SAFETY: `self.iter` was initialised by `drm_atomic_helper_damage_iter_init()` and the
        // states it refers to outlive `self`.
        if unsafe { bindings::drm_atomic_helper_damage_iter_next(&mut self.iter, &mut r) } {
            Some(Rect::from_raw(&r))
        } else {
            None
        }
    }
}

#[macros::kunit_tests(rust_drm_kms_damage)]
mod tests {
    use super::*;

    #[test]
    fn rect_geometry() {
        let r = Rect::new(10, 20, 64, 32).unwrap();
        assert_eq!((r.x2, r.y2), (74, 52));
        assert_eq!((r.width(), r.height()), (64, 32));
        assert!(r.is_within(74, 52));
        assert!(!r.is_within(73, 52));
        assert!(!Rect::new(-1, 0, 4, 4).unwrap().is_within(100, 100));
        assert!(Rect::new(i32::MAX, 0, 1, 1).is_none());
        assert!(Rect::new(0, 0, u32::MAX, 1).is_none());
    }

    #[test]
    fn rows_end_bounds() {
        assert_eq!(rows_end(0, 4096, 4096, 768), Some(4096 * 768));
        assert_eq!(rows_end(100, 4096, 256, 1), Some(356));
        assert_eq!(rows_end(7, 16, 0, 5), Some(7));
        assert_eq!(rows_end(7, 16, 8, 0), Some(7));
        // A single row may be longer than the pitch; several may not (they would overlap).
        assert_eq!(rows_end(0, 4, 8, 1), Some(8));
        assert_eq!(rows_end(0, 4, 8, 2), None);
        assert_eq!(rows_end(0, usize::MAX / 2 + 1, 1, 3), None);
    }

    #[test]
    fn empty_and_inverted_rects() {
        let inverted = Rect {
            x1: 5,
            y1: 5,
            x2: 1,
            y2: 9,
        };
        assert_eq!(inverted.width(), 0);
        assert!(inverted.is_empty());
        assert!(!inverted.is_within(100, 100));
        assert!(Rect::new(3, 3, 0, 7).unwrap().is_empty());
    }
}
