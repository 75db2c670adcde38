// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0597
//! Issue 19, hole 2: registration data borrowing a short-lived value, then `mem::forget` of
//! the registration, left the data reachable from hooks after the value was freed (KASAN
//! slab-use-after-free in `get_modes`). The data is now built by a closure that must work for
//! any lifetime of the parent, so it cannot borrow anything shorter-lived than the binding.

use kernel::prelude::*;
include!("display.rs");
display!(
    name: c"misuse_data_borrows_local",
    data: Data,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: modes_1024x768,
);

case_module!("misuse_data_borrows_local");

/// Registration data that borrows.
struct Data<'a> {
    _name: &'a [u8; 6],
}

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_data_borrows_local", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        let name = KBox::new(*b"misuse", GFP_KERNEL)?;
        // error[E0597]: `name` does not live long enough.
        let reg = kms::Registration::new(
            fdev,
            configured(fdev)?,
            |_| KBox::pin_init(Ok::<_, Error>(Data { _name: &name }), GFP_KERNEL),
            0,
        )?;
        core::mem::forget(reg);
        Ok(Self { _faux: faux })
    }
}
