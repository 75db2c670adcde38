// SPDX-License-Identifier: GPL-2.0
// expect: clean
// trigger: rbguest info
//! Issue 19, hole 4: a leaked faux device (its registration forgotten) with a KMS device
//! registered on it outlived the module: after `rmmod`, the fbdev emulation's CRTC and its
//! software vblank timer ran on freed module code (KASAN vmalloc-out-of-bounds in
//! `drm_vblank_timer_function`, panic in interrupt). The registration is now torn down when
//! the registering module goes away: `rmmod` must leave the kernel clean.

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"misuse_leaked_parent_rmmod",
    data: NoData,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: modes_1024x768,
);

case_module!("misuse_leaked_parent_rmmod");

struct Misuse;

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_leaked_parent_rmmod", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        kms::Registration::new_foreign_owned(fdev, configured(fdev)?, no_data, 0)?;
        core::mem::forget(faux);
        Ok(Self)
    }
}
