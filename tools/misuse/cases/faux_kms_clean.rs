// SPDX-License-Identifier: GPL-2.0
// expect: clean
// trigger: rbguest info
// trigger: for s in /sys/class/drm/card*-Virtual-*/status; do echo detect > $s; done
//! The reference: a complete KMS device on a faux device, registered as the KMS sample does
//! (`new_foreign_owned`), probed from userspace (GETCONNECTOR, a forced detect) while fbdev
//! lights its CRTC, and torn down by `rmmod`. Everything must stay clean.

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"faux_kms_clean",
    data: NoData,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: modes_1024x768,
);

case_module!("faux_kms_clean");

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_clean", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        kms::Registration::new_foreign_owned(fdev, configured(fdev)?, no_data, 0)?;
        Ok(Self { _faux: faux })
    }
}
