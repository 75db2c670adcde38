// SPDX-License-Identifier: GPL-2.0
//! What the bench measures: the workloads and how long it runs.

/// How long the bench runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Runs per driver (rounds).
    pub runs: u32,
    /// Updates per workload and run.
    pub frames: u32,
    /// Mode switches per run.
    pub switches: u32,
    /// Lines written to the console per fbcon run.
    pub lines: u32,
    /// Screenshots per driver of the tearing test.
    pub shots: usize,
}

/// The default plan: a few minutes under TCG on 2 cores.
pub const FULL: Plan = Plan {
    runs: 7,
    frames: 60,
    switches: 20,
    lines: 1000,
    shots: 200,
};

/// The smoke plan of `make check`: every workload once, a handful of updates.
pub const SMOKE: Plan = Plan {
    runs: 1,
    frames: 3,
    switches: 2,
    lines: 100,
    shots: 20,
};

/// A workload `rbbench` runs, as the report shows it.
pub struct Workload {
    /// The name `rbbench` prints.
    pub name: &'static str,
    /// What it is, for the report.
    pub what: &'static str,
    /// Unit of its rate.
    pub unit: &'static str,
    /// Copies damage into video memory, with a memcpy reference.
    pub copy: bool,
    /// Target: the copy runs at >= 0.8x the memcpy limit.
    pub full_frame: bool,
    /// Target: bytes copied per update <= 1.05x the damaged bytes.
    pub small: bool,
}

const fn w(
    name: &'static str,
    what: &'static str,
    unit: &'static str,
    copy: bool,
    full_frame: bool,
    small: bool,
) -> Workload {
    Workload {
        name,
        what,
        unit,
        copy,
        full_frame,
        small,
    }
}

/// Every workload, in the order of the report.
pub const WORKLOADS: &[Workload] = &[
    w(
        "full-1024x768",
        "full frames 1024x768",
        "frames/s",
        true,
        true,
        false,
    ),
    w(
        "full-1920x1080",
        "full frames 1920x1080",
        "frames/s",
        true,
        true,
        false,
    ),
    w(
        "damage-1",
        "1 rect 64x64 (1080p)",
        "commits/s",
        true,
        false,
        true,
    ),
    w(
        "damage-8",
        "8 rects 64x64 (1080p)",
        "commits/s",
        true,
        false,
        true,
    ),
    w(
        "damage-64",
        "64 rects 64x64 (1080p)",
        "commits/s",
        true,
        false,
        true,
    ),
    w(
        "dirtyfb-full",
        "DIRTYFB full 1080p",
        "calls/s",
        true,
        true,
        false,
    ),
    w(
        "dirtyfb-8",
        "DIRTYFB 8 rects 64x64",
        "calls/s",
        true,
        false,
        true,
    ),
    w(
        "modeset-1024x768-1280x1024",
        "modeset 1024x768<->1280x1024",
        "modesets/s",
        false,
        false,
        false,
    ),
    w(
        "fbcon",
        "fbcon scrolling (1080p)",
        "lines/s",
        false,
        false,
        false,
    ),
];
