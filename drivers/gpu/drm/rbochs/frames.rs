// SPDX-License-Identifier: GPL-2.0

//! Where the primary plane's image goes in video memory: one frame, or two to flip between.
//!
//! QEMU reads video memory whenever its display side wants a picture, on a thread of its own,
//! and knows nothing of a copy in progress. With two frames the device shows one while the
//! driver draws into the other, and the update then moves the scanout start to it: QEMU never
//! reads a frame being written. The hidden frame holds the picture of two updates ago, so an
//! update copies its own damage and the previous update's (buffer age 2), less what its own
//! damage covers.

use kernel::{
    drm::kms::damage::Rect,
    prelude::*, //
};

/// Damage rectangles, in framebuffer coordinates.
#[derive(Default)]
pub(crate) struct Clips {
    rects: KVec<Rect>,
    /// A rectangle could not be recorded at all (no memory for the first one).
    lost: bool,
}

impl Clips {
    /// Rectangles kept one by one; past them (or when memory for them runs out), the last one
    /// grows to cover the rest.
    const MAX: usize = 1024;

    pub(crate) fn push(&mut self, r: Rect) {
        if self.rects.len() < Self::MAX && self.rects.push(r, GFP_KERNEL).is_ok() {
            return;
        }
        match self.rects.last_mut() {
            Some(last) => {
                *last = Rect {
                    x1: last.x1.min(r.x1),
                    y1: last.y1.min(r.y1),
                    x2: last.x2.max(r.x2),
                    y2: last.y2.max(r.y2),
                }
            }
            // Not even one rectangle could be stored: what the update covers is unknown.
            None => self.lost = true,
        }
    }

    /// Whether a rectangle could not be recorded: the rectangles say nothing then.
    pub(crate) fn lost(&self) -> bool {
        self.lost
    }

    pub(crate) fn as_slice(&self) -> &[Rect] {
        &self.rects
    }

    /// Whether `r` lies within one of the rectangles.
    pub(crate) fn covers(&self, r: &Rect) -> bool {
        self.rects
            .iter()
            .any(|c| c.x1 <= r.x1 && c.y1 <= r.y1 && r.x2 <= c.x2 && r.y2 <= c.y2)
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

/// The frames and what each holds.
#[derive(Default)]
pub(crate) struct Frames {
    layout: Option<Layout>,
    /// The frame on screen.
    shown: usize,
    /// Whether the frame on screen holds a whole picture (not after a reset).
    complete: bool,
    /// What the hidden frame lacks of the picture on screen, if that is known.
    hidden_lacks: Option<Clips>,
}

impl Frames {
    /// Forgets what the frames hold: after a mode set, or when video memory was cleared.
    pub(crate) fn reset(&mut self) {
        self.layout = None;
        self.shown = 0;
        self.complete = false;
        self.hidden_lacks = None;
    }

    /// The frame on screen.
    pub(crate) fn shown(&self) -> usize {
        self.shown
    }

    /// Begins an update with `layout`: returns the frame to draw into, and what that frame
    /// lacks besides the update's own damage (`None`: the whole picture).
    pub(crate) fn target(&mut self, layout: Layout) -> (usize, Option<&[Rect]>) {
        if self.layout != Some(layout) {
            self.reset();
            self.layout = Some(layout);
        }
        if layout.double {
            (
                1 - self.shown,
                self.hidden_lacks.as_ref().map(Clips::as_slice),
            )
        } else {
            (0, self.complete.then_some(&[][..]))
        }
    }

    /// Records that an update drew `damage` (and what the frame lacked) into `frame`, now on
    /// screen.
    pub(crate) fn shown_now(&mut self, frame: usize, damage: Clips) {
        if frame != self.shown {
            // The frame just hidden holds the previous picture: it lacks this damage, or an
            // unknown part if the damage could not be recorded.
            self.hidden_lacks = (self.complete && !damage.lost()).then_some(damage);
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
        assert_eq!(f.target(DOUBLE), (1, None));
        f.shown_now(1, clips(&[rect(0, 0)]));
        assert_eq!(f.target(DOUBLE), (0, None));
        f.shown_now(0, clips(&[rect(8, 8)]));
        // Frame 1 holds the first picture: it lacks the second update's damage.
        assert_eq!(f.target(DOUBLE), (1, Some(&[rect(8, 8)][..])));
        f.shown_now(1, clips(&[rect(16, 16)]));
        assert_eq!(f.target(DOUBLE), (0, Some(&[rect(16, 16)][..])));
    }

    #[test]
    fn new_layout_or_reset_starts_anew() {
        let mut f = Frames::default();
        for frame in [1, 0] {
            f.target(DOUBLE);
            f.shown_now(frame, clips(&[rect(0, 0)]));
        }
        assert!(f.target(DOUBLE).1.is_some());
        let bigger = Layout {
            frame_size: 8192,
            ..DOUBLE
        };
        assert_eq!(f.target(bigger).1, None);
        f.reset();
        assert_eq!(f.shown(), 0);
        assert_eq!(f.target(DOUBLE).1, None);
    }

    #[test]
    fn single_buffering_draws_into_the_frame_on_screen() {
        let single = Layout {
            frame_size: 4096,
            double: false,
        };
        let mut f = Frames::default();
        assert_eq!(f.target(single), (0, None));
        f.shown_now(0, clips(&[rect(0, 0)]));
        assert_eq!(f.target(single), (0, Some(&[][..])));
    }

    #[test]
    fn clips_past_the_limit_merge() {
        let mut c = Clips::default();
        for i in 0..Clips::MAX + 2 {
            c.push(rect(i as i32 * 10, 0));
        }
        assert_eq!(c.as_slice().len(), Clips::MAX);
        let last = Clips::MAX as i32 - 1;
        assert_eq!(
            c.as_slice()[Clips::MAX - 1],
            Rect::new(last * 10, 0, 24, 4).unwrap()
        );
    }

    #[test]
    fn covered_rectangles() {
        let c = clips(&[Rect::new(0, 0, 100, 100).unwrap()]);
        assert!(c.covers(&rect(10, 10)));
        assert!(c.covers(&Rect::new(0, 0, 100, 100).unwrap()));
        assert!(!c.covers(&rect(98, 10)));
    }
}
