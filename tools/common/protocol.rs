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
