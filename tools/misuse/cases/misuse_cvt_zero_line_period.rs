// SPDX-License-Identifier: GPL-2.0
// expect: insmod-errno EINVAL
//! Issue 19, hole 5: `ModeProbe::add_cvt_mode` passed its arguments to `drm_cvt_mode()`
//! unchecked: at 640x480 and 1818 Hz the line period is 0 and C divides by it (a divide-error
//! oops on x86_64, a mode with clock 0 on arm64). The connector's `get_modes`, run by the fbdev
//! emulation during registration, asks for that mode and for 640x480 at 60 Hz; the module's
//! init fails with what the first call returned (`EINVAL` when refused), or `ENODATA` if the
//! probe did not run or the 60 Hz mode was refused too.

use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};
include!("display.rs");
display!(
    name: c"misuse_cvt_zero_line_period",
    data: NoData,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: cvt_modes,
);

case_module!("misuse_cvt_zero_line_period");

/// What `add_cvt_mode(640, 480, 1818)` returned: 0 not called, 1 `Ok`, else the errno.
static ZERO_PERIOD: Atomic<i32> = Atomic::new(0);
/// What `add_cvt_mode(640, 480, 60)` returned: 0 not called, 1 `Ok`, 2 refused.
static SIXTY_HZ: Atomic<i32> = Atomic::new(0);

fn cvt_modes(probe: &mut ModeProbe<'_>) -> u32 {
    let zero = probe.add_cvt_mode(640, 480, 1818);
    ZERO_PERIOD.store(zero.map_or_else(|e| e.to_errno().abs(), |()| 1), Relaxed);
    let sixty = probe.add_cvt_mode(640, 480, 60);
    SIXTY_HZ.store(if sixty.is_ok() { 1 } else { 2 }, Relaxed);
    u32::from(zero.is_ok()) + u32::from(sixty.is_ok())
}

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_cvt_zero_line_period", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        kms::Registration::new_foreign_owned(fdev, configured(fdev)?, no_data, 0)?;
        match (ZERO_PERIOD.load(Relaxed), SIXTY_HZ.load(Relaxed)) {
            (0, _) | (_, 2) => Err(ENODATA),
            (1, _) => {
                pr_err!("MISUSE-FAIL: add_cvt_mode(640, 480, 1818) was accepted\n");
                Ok(Self { _faux: faux })
            }
            (errno, _) => Err(Error::from_errno(-errno)),
        }
    }
}
