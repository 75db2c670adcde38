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
    drm::kms::{
        damage::Rect,
        state::StateData, //
    },
    prelude::*, //
};

/// Damage rectangles, in framebuffer coordinates, with room reserved for them up front.
pub(crate) struct Clips {
    rects: KVec<Rect>,
}

impl Clips {
    /// Rectangles kept one by one; past them, the last one grows to cover the rest.
    const MAX: usize = 1024;

    /// Room for `n` rectangles (at most [`Clips::MAX`]): [`Clips::push`] then allocates
    /// nothing.
    pub(crate) fn with_room(n: usize) -> Result<Self> {
        Ok(Self {
            rects: KVec::with_capacity(n.clamp(1, Self::MAX), GFP_KERNEL)?,
        })
    }

    /// Adds `r`, within the room reserved: past it, the last rectangle grows to cover `r`.
    pub(crate) fn push(&mut self, r: Rect) {
        if self.rects.push_within_capacity(r).is_ok() {
            return;
        }
        // The room is used up, so there is a last rectangle: `with_room` reserves at least one.
        if let Some(last) = self.rects.last_mut() {
            *last = Rect {
                x1: last.x1.min(r.x1),
                y1: last.y1.min(r.y1),
                x2: last.x2.max(r.x2),
                y2: last.y2.max(r.y2),
            };
        }
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

/// What an update of the primary plane does to the frames, and what they hold after it: the
/// driver's data of the plane state, planned by the atomic check ([`Frames::plan`]) from the
/// state before, carried out by the atomic update.
#[derive(Default)]
pub(crate) struct Frames {
    /// The layout of the frames; `None` when the plane shows nothing the driver drew.
    layout: Option<Layout>,
    /// The frame the update draws into, on screen after it.
    shown: usize,
    /// Whether the update moves the scanout to another frame.
    flips: bool,
    /// What the hidden frame lacks of the picture on screen after the update, if that is
    /// known: this update's damage, when the frame it hides held the picture before.
    hidden_lacks: Option<Clips>,
    /// The rectangles the update copies into frame `shown`.
    copy: KVec<Rect>,
}

/// Every new state is planned anew by the atomic check, from the state before it: a duplicate
/// starts empty.
impl StateData for Frames {
    fn duplicate(&self) -> Result<Self> {
        Ok(Self::default())
    }
}

impl Frames {
    /// Plans an update with `layout` that changes `damage` of the picture, `whole` being the
    /// whole picture, after the update that left `prev`; `None` when the frames hold nothing
    /// known (the plane was off, or the output was programmed anew).
    ///
    /// Reserves all the update needs: fails with `ENOMEM` only.
    pub(crate) fn plan(
        prev: Option<&Frames>,
        layout: Layout,
        damage: Clips,
        whole: Rect,
    ) -> Result<Self> {
        // What the frames held before, if in this layout.
        let prev = prev.filter(|p| p.layout == Some(layout));
        let shown_before = prev.map_or(0, |p| p.shown);
        // The frame to draw into, and what it lacks besides this update's damage (`None`: the
        // whole picture).
        let (frame, lacks): (usize, Option<&[Rect]>) = if layout.double {
            (
                1 - shown_before,
                prev.and_then(|p| p.hidden_lacks.as_ref())
                    .map(Clips::as_slice),
            )
        } else {
            (0, prev.map(|_| &[][..]))
        };
        let copy = match lacks {
            Some(lacks) => {
                let mut copy =
                    KVec::with_capacity(damage.as_slice().len() + lacks.len(), GFP_KERNEL)?;
                let theirs = lacks.iter().filter(|r| !damage.covers(r));
                for &r in Iterator::chain(damage.as_slice().iter(), theirs) {
                    // Within the capacity reserved above.
                    let _ = copy.push_within_capacity(r);
                }
                copy
            }
            None => {
                let mut copy = KVec::with_capacity(1, GFP_KERNEL)?;
                let _ = copy.push_within_capacity(whole);
                copy
            }
        };
        Ok(Self {
            layout: Some(layout),
            shown: frame,
            flips: frame != shown_before,
            // The frame this update hides held the previous picture if there was one: it lacks
            // this update's damage.
            hidden_lacks: (layout.double && prev.is_some()).then_some(damage),
            copy,
        })
    }

    /// The layout, for a planned update.
    pub(crate) fn layout(&self) -> Option<Layout> {
        self.layout
    }

    /// The frame the update draws into and shows.
    pub(crate) fn shown(&self) -> usize {
        self.shown
    }

    /// Whether the update moves the scanout to another frame.
    pub(crate) fn flips(&self) -> bool {
        self.flips
    }

    /// The rectangles the update copies.
    pub(crate) fn copies(&self) -> &[Rect] {
        &self.copy
    }
}

#[kunit_tests(rust_rbochs_frames)]
mod tests {
    use super::*;

    fn rect(x: i32, y: i32) -> Rect {
        Rect::new(x, y, 4, 4).unwrap()
    }

    const WHOLE: Rect = Rect {
        x1: 0,
        y1: 0,
        x2: 64,
        y2: 16,
    };

    fn clips(rects: &[Rect]) -> Clips {
        let mut c = Clips::with_room(rects.len()).unwrap();
        rects.iter().for_each(|&r| c.push(r));
        c
    }

    /// Plans an update with `damage` after `prev`.
    fn plan(prev: Option<&Frames>, layout: Layout, damage: &[Rect]) -> Frames {
        Frames::plan(prev, layout, clips(damage), WHOLE).unwrap()
    }

    const DOUBLE: Layout = Layout {
        frame_size: 4096,
        double: true,
    };

    #[test]
    fn double_buffering_copies_two_updates_of_damage() {
        // Neither frame holds anything: the first two updates copy the whole picture.
        let f1 = plan(None, DOUBLE, &[rect(0, 0)]);
        assert_eq!(
            (f1.shown(), f1.copies(), f1.flips()),
            (1, &[WHOLE][..], true)
        );
        let f2 = plan(Some(&f1), DOUBLE, &[rect(8, 8)]);
        assert_eq!((f2.shown(), f2.copies()), (0, &[WHOLE][..]));
        // Frame 1 holds the first picture: it lacks the second update's damage.
        let f3 = plan(Some(&f2), DOUBLE, &[rect(16, 16)]);
        assert_eq!(
            (f3.shown(), f3.copies()),
            (1, &[rect(16, 16), rect(8, 8)][..])
        );
        let f4 = plan(Some(&f3), DOUBLE, &[rect(16, 16)]);
        // The previous damage is covered by this update's own: copied once.
        assert_eq!((f4.shown(), f4.copies()), (0, &[rect(16, 16)][..]));
    }

    #[test]
    fn new_layout_or_nothing_known_starts_anew() {
        let f1 = plan(None, DOUBLE, &[rect(0, 0)]);
        let f2 = plan(Some(&f1), DOUBLE, &[rect(0, 0)]);
        let f3 = plan(Some(&f2), DOUBLE, &[rect(0, 0)]);
        assert_eq!(f3.copies(), &[rect(0, 0)][..]);
        let bigger = Layout {
            frame_size: 8192,
            ..DOUBLE
        };
        let f4 = plan(Some(&f3), bigger, &[rect(0, 0)]);
        assert_eq!((f4.shown(), f4.copies()), (1, &[WHOLE][..]));
        let f5 = plan(None, DOUBLE, &[rect(0, 0)]);
        assert_eq!((f5.shown(), f5.copies()), (1, &[WHOLE][..]));
    }

    #[test]
    fn single_buffering_draws_into_the_frame_on_screen() {
        let single = Layout {
            frame_size: 4096,
            double: false,
        };
        let f1 = plan(None, single, &[rect(0, 0)]);
        assert_eq!(
            (f1.shown(), f1.copies(), f1.flips()),
            (0, &[WHOLE][..], false)
        );
        let f2 = plan(Some(&f1), single, &[rect(8, 0)]);
        assert_eq!(
            (f2.shown(), f2.copies(), f2.flips()),
            (0, &[rect(8, 0)][..], false)
        );
    }

    #[test]
    fn duplicates_start_empty() {
        let f = plan(None, DOUBLE, &[rect(0, 0)]);
        let d = f.duplicate().unwrap();
        assert_eq!((d.layout(), d.copies().len()), (None, 0));
    }

    #[test]
    fn clips_past_the_room_merge() {
        let mut c = Clips::with_room(Clips::MAX + 2).unwrap();
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
