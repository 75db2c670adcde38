// SPDX-License-Identifier: GPL-2.0
//! The markers the in-guest programs print and the host waits for, shared so both sides
//! spell them the same.

/// A `show`-like command has the screen in the state the host should check, and waits for a
/// line on stdin before it cleans up.
pub const READY: &str = "@@READY";

/// `rbguest hold` shows its pattern and holds the card open with the buffer mapped.
pub const HOLDING: &str = "@@HOLDING";

/// How rbguest begins the line that says why it failed.
pub const ERROR: &str = "rbguest: error";

/// `rbguest alternate` shows its first frame and starts alternating.
pub const ALTERNATING: &str = "@@ALTERNATING";

/// The two colours `rbguest alternate` fills the whole screen with in turn (XRGB8888): pure red
/// and pure blue, which neither black nor the console's palette contains, so a screenshot
/// holding both is a torn frame.
pub const TEAR_A: u32 = 0x00ff_0000;
pub const TEAR_B: u32 = 0x0000_00ff;
