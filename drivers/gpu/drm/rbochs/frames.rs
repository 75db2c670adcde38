// SPDX-License-Identifier: GPL-2.0

//! Where the primary plane's image goes in video memory: one frame, or two to flip between.
//!
//! QEMU reads video memory whenever its display side wants a picture, on a thread of its own,
//! and knows nothing of a copy in progress. With two frames the device shows one while the
//! driver draws into the other, and the update then moves the scanout start to it: QEMU never
//! reads a frame being written. The hidden frame holds the picture of two updates ago, so an
//! update copies its own damage and the previous update's (buffer age 2).

use kernel::{
    drm::kms::damage::Rect,
    prelude::*, //
};

/// Damage rectangles, in framebuffer coordinates, that one update leaves for the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Clips {
    rects: [Rect; Clips::MAX],
    len: usize,
}

impl Clips {
    /// Rectangles kept one by one; past them, the last one grows to cover the rest.
    const MAX: usize = 8;

    pub(crate) fn push(&mut self, r: Rect) {
        if self.len < Self::MAX {
            self.rects[self.len] = r;
            self.len += 1;
            return;
        }
        let last = &mut self.rects[Self::MAX - 1];
        *last = Rect {
            x1: last.x1.min(r.x1),
            y1: last.y1.min(r.y1),
            x2: last.x2.max(r.x2),
            y2: last.y2.max(r.y2),
        };
    }

    pub(crate) fn as_slice(&self) -> &[Rect] {
        &self.rects[..self.len]
    }
}

/// How the frames are laid out: an update with another layout starts anew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Bytes of one frame: the framebuffer's pitch times its height.
    pub(crate) frame_size: usize,
    /// Whether there are two frames.
    pub(crate) double: bool,
}

/// What the next update does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The frame to draw into (0 or 1).
    pub(crate) frame: usize,
    /// What that frame lacks besides the update's own damage; `None`: the whole picture.
    pub(crate) lacks: Option<Clips>,
}

/// The frames and what each holds.
#[derive(Default)]
pub(crate) struct Frames {
    layout: Option<Layout>,
    /// The frame on screen.
    shown: usize,
    /// Whether the frame on screen holds a whole picture (not after a reset).
    complete: bool,
    /// What the hidden frame lacks of the picture on screen; `None`: all of it.
    hidden_lacks: Option<Clips>,
}

impl Frames {
    /// Forgets what the frames hold: after a mode set, or when video memory was cleared.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// The frame on screen.
    pub(crate) fn shown(&self) -> usize {
        self.shown
    }

    /// Where an update with `layout` draws, and what it must copy besides its damage.
    pub(crate) fn target(&mut self, layout: Layout) -> Target {
        if self.layout != Some(layout) {
            self.reset();
            self.layout = Some(layout);
        }
        if layout.double {
            Target {
                frame: 1 - self.shown,
                lacks: self.hidden_lacks,
            }
        } else {
            Target {
                frame: 0,
                lacks: self.complete.then(Clips::default),
            }
        }
    }

    /// Records that an update drew `damage` (and what it lacked) into `frame`, now on screen.
    pub(crate) fn shown_now(&mut self, frame: usize, damage: Clips) {
        if frame != self.shown {
            self.hidden_lacks = self.complete.then_some(damage);
            self.shown = frame;
        }
        self.complete = true;
    }
}

#[kunit_tests(rust_rbochs_frames)]
mod tests {
    use super::*;

    fn rect(x: i32, y: i32) -> Rect {
        Rect::new(x, y, 4, 4).unwrap()
    }

    fn clips(rects: &[Rect]) -> Clips {
        let mut c = Clips::default();
        rects.iter().for_each(|&r| c.push(r));
        c
    }

    const DOUBLE: Layout = Layout {
        frame_size: 4096,
        double: true,
    };

    #[test]
    fn double_buffering_copies_two_updates_of_damage() {
        let mut f = Frames::default();
        // Neither frame holds anything: the first two updates copy the whole picture.
        let t = f.target(DOUBLE);
        assert_eq!((t.frame, t.lacks), (1, None));
        f.shown_now(1, clips(&[rect(0, 0)]));
        let t = f.target(DOUBLE);
        assert_eq!((t.frame, t.lacks), (0, None));
        f.shown_now(0, clips(&[rect(8, 8)]));
        // Frame 1 holds the first picture: it lacks the second update's damage.
        let t = f.target(DOUBLE);
        assert_eq!(t.frame, 1);
        assert_eq!(t.lacks.unwrap().as_slice(), &[rect(8, 8)]);
        f.shown_now(1, clips(&[rect(16, 16)]));
        let t = f.target(DOUBLE);
        assert_eq!(t.frame, 0);
        assert_eq!(t.lacks.unwrap().as_slice(), &[rect(16, 16)]);
    }

    #[test]
    fn new_layout_or_reset_starts_anew() {
        let mut f = Frames::default();
        for frame in [1, 0] {
            f.target(DOUBLE);
            f.shown_now(frame, clips(&[rect(0, 0)]));
        }
        assert!(f.target(DOUBLE).lacks.is_some());
        let bigger = Layout {
            frame_size: 8192,
            ..DOUBLE
        };
        assert_eq!(f.target(bigger).lacks, None);
        f.reset();
        assert_eq!(f.shown(), 0);
        assert_eq!(f.target(DOUBLE).lacks, None);
    }

    #[test]
    fn single_buffering_draws_into_the_frame_on_screen() {
        let single = Layout {
            frame_size: 4096,
            double: false,
        };
        let mut f = Frames::default();
        assert_eq!(
            f.target(single),
            Target {
                frame: 0,
                lacks: None
            }
        );
        f.shown_now(0, clips(&[rect(0, 0)]));
        assert_eq!(f.target(single).lacks, Some(Clips::default()));
    }

    #[test]
    fn clips_past_the_limit_merge() {
        let rects: [Rect; 10] = core::array::from_fn(|i| rect(i as i32 * 10, 0));
        let c = clips(&rects);
        assert_eq!(c.as_slice().len(), Clips::MAX);
        assert_eq!(
            c.as_slice()[Clips::MAX - 1],
            Rect::new(70, 0, 24, 4).unwrap()
        );
    }
}
