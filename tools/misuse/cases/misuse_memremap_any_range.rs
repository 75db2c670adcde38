// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0133
//! Issue 19, hole 1: `MemRemap::new` mapped any physical range from safe code (a module mapped
//! System RAM write-back and wrote 64 MiB through it: KASAN use-after-free). It is `unsafe`
//! now; the safe way to a mapping is a bus's, e.g. `pci::Device::memremap_bar`.

use kernel::{
    device::Bound,
    faux,
    io::memremap::{CachePolicy, MemRemap},
    prelude::*,
};
include!("display.rs");

case_module!("misuse_memremap_any_range");

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_memremap_any_range", None)?;
        let fdev: &faux::Device<Bound> = faux.as_ref();
        {
            // error[E0133]: call to unsafe function `MemRemap::new` is unsafe.
            let map = MemRemap::new(fdev.as_ref(), 0x4000_0000, 1 << 26, CachePolicy::WriteBack)?;
            map.fill_rows(0, 1 << 26, 1 << 26, 1, 0)?;
        }
        Ok(Self { _faux: faux })
    }
}
