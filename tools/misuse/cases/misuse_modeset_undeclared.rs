// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0080
//! Issue 20: a driver says it does modesetting twice, by implementing `KmsDriver` and by
//! setting `drm::Driver::MODESET`, from which the DRM core's vtable is built. A `KmsDriver`
//! that leaves `MODESET` at `None` would get a mode configuration on a device the DRM core
//! treats as having none; `ModeConfig::init` refuses to build for it.

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"misuse_modeset_undeclared",
    data: NoData,
    modeset: None,
    get_modes: modes_1024x768,
);

case_module!("misuse_modeset_undeclared");

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_modeset_undeclared", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        // error[E0080]: evaluation of `ModeConfig::<Drv>::MODESET_DECLARED` failed.
        kms::Registration::new_foreign_owned(fdev, configured(fdev)?, no_data, 0)?;
        Ok(Self { _faux: faux })
    }
}
