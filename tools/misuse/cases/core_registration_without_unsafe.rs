// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0133
//! `drm::Registration::new`, the core (non-KMS) registration, is an `unsafe fn`: its caller
//! must promise the registration is not leaked. Calling it from safe code must not compile.

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"core_registration",
    data: NoData,
    modeset: None,
    get_modes: modes_1024x768,
);

case_module!("core_registration_without_unsafe");

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_core_reg", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        let drm = drm::UnregisteredDevice::<Drv>::new(fdev, Ok(()))?;
        let data = NoData(core::marker::PhantomData);
        // error[E0133]: call to unsafe function `drm::Registration::new` is unsafe.
        let reg = drm::Registration::new(fdev.as_ref(), drm, Ok::<_, Error>(data), 0)?;
        core::mem::forget(reg);
        Ok(Self { _faux: faux })
    }
}
