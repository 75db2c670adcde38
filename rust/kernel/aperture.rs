// SPDX-License-Identifier: GPL-2.0

//! Handing a display over from firmware framebuffers to a native driver.
//!
//! C header: [`include/linux/aperture.h`](srctree/include/linux/aperture.h)

use crate::{
    bindings,
    device,
    error::to_result,
    pci,
    prelude::*, //
};

/// Removes the firmware framebuffers (efifb, simpledrm, VGA console...) that use the memory of
/// `pdev`'s BARs, so that `name`'s driver can take the device over
/// (`aperture_remove_conflicting_pci_devices()`).
pub fn remove_conflicting_pci_devices(pdev: &pci::Device<device::Core<'_>>, name: &CStr) -> Result {
    // SAFETY: `pdev` is a valid PCI device being probed; `name` is a valid C string.
    to_result(unsafe {
        bindings::aperture_remove_conflicting_pci_devices(pdev.as_raw(), name.as_char_ptr())
    })
}
