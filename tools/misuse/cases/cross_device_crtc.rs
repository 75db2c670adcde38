// SPDX-License-Identifier: GPL-2.0
// expect: insmod-errno EINVAL
//! A CRTC made on one device's mode configuration with the primary plane of another device:
//! the kernel crate must refuse it (`EINVAL`), so the module's init fails with that.

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"cross_device_crtc",
    data: NoData,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: modes_1024x768,
);

case_module!("cross_device_crtc");

struct Misuse;

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let fa = faux::Registration::new(c"misuse_cross_a", None)?;
        let fb = faux::Registration::new(c"misuse_cross_b", None)?;
        let a = kms::ModeConfig::init(drm::UnregisteredDevice::<Drv>::new(fa.as_ref(), Ok(()))?)?;
        let b = kms::ModeConfig::init(drm::UnregisteredDevice::<Drv>::new(fb.as_ref(), Ok(()))?)?;
        let primary_b = Plane::new(&b, PlaneType::Primary, &[Format::XRGB8888], Ok(Primary))?;
        // Must fail with EINVAL: the plane belongs to `b`.
        Crtc::new(&a, primary_b, Ok(Pipe))?;
        pr_err!("MISUSE-FAIL: a CRTC was made with another device's plane\n");
        Err(ENOTRECOVERABLE)
    }
}
