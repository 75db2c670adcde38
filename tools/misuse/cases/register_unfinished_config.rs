// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0308
//! Registering a device whose mode configuration was never finished: `kms::Registration`
//! takes only a `ConfiguredDevice` (from `ModeConfig::finish()`), so passing the `ModeConfig`
//! itself must not compile (mismatched types).

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"register_unfinished_config",
    data: NoData,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: modes_1024x768,
);

case_module!("register_unfinished_config");

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_unfinished", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        let mc = kms::ModeConfig::init(drm::UnregisteredDevice::<Drv>::new(fdev, Ok(()))?)?;
        // error[E0308]: mismatched types (expected `ConfiguredDevice<Drv>`).
        kms::Registration::<'_, Drv>::new_foreign_owned(fdev, mc, no_data, 0)?;
        Ok(Self { _faux: faux })
    }
}
