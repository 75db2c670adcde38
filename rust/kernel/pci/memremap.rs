// SPDX-License-Identifier: GPL-2.0

//! PCI BARs that hold RAM-like memory, mapped with [`MemRemap`].

use super::Device;
use crate::{
    bindings, device,
    ffi::c_ulong,
    io::memremap::{
        CachePolicy,
        MemRemap, //
    },
    prelude::*,
};
use core::{
    mem::ManuallyDrop,
    ops::Deref, //
};

/// A requested PCI BAR mapped as memory (`pci_request_region()` + `memremap()`).
///
/// Dereferences to the [`MemRemap`]. The mapping is removed and the region released on drop; the
/// lifetime ties both to the device binding.
pub struct MemBar<'a> {
    pdev: &'a Device<device::Bound>,
    map: ManuallyDrop<MemRemap<'a>>,
    num: i32,
}

impl<'a> MemBar<'a> {
    pub(super) fn new(
        pdev: &'a Device<device::Bound>,
        bar: u32,
        name: &'static CStr,
        policy: CachePolicy,
    ) -> Result<Self> {
        let start = pdev.resource_start(bar)?;
        let len = usize::try_from(pdev.resource_len(bar)?)?;
        if len == 0 {
            return Err(ENODEV);
        }
        // An I/O port BAR's "start" is a port number, not a physical address.
        // SAFETY: `pdev` is a valid PCI device and `bar` a valid BAR index (checked by
        // `resource_start()` above). The flags of a bound device's BARs do not change.
        let flags = unsafe { (*pdev.as_raw()).resource[bar as usize].flags };
        if flags & bindings::IORESOURCE_MEM as c_ulong == 0 {
            return Err(EINVAL);
        }
        let num = i32::try_from(bar)?;

        // SAFETY: `pdev` is a valid, bound PCI device and `num` a valid BAR index (checked by
        // `resource_start()` above).
        if unsafe { bindings::pci_request_region(pdev.as_raw(), num, name.as_char_ptr()) } != 0 {
            return Err(EBUSY);
        }
        // SAFETY: The range is memory BAR `num` of `pdev`, requested above for this driver;
        // the request is released only after the mapping is dropped (`Drop`).
        match unsafe { MemRemap::new(pdev.as_ref(), start, len, policy) } {
            Ok(map) => Ok(Self {
                pdev,
                map: ManuallyDrop::new(map),
                num,
            }),
            Err(e) => {
                // SAFETY: Requested above.
                unsafe { bindings::pci_release_region(pdev.as_raw(), num) };
                Err(e)
            }
        }
    }
}

impl<'a> Deref for MemBar<'a> {
    type Target = MemRemap<'a>;

    fn deref(&self) -> &MemRemap<'a> {
        &self.map
    }
}

impl Drop for MemBar<'_> {
    fn drop(&mut self) {
        // SAFETY: Dropped once, here, before the region is released.
        unsafe { ManuallyDrop::drop(&mut self.map) };
        // SAFETY: The region was requested in `new`.
        unsafe { bindings::pci_release_region(self.pdev.as_raw(), self.num) };
    }
}

impl Device<device::Bound> {
    /// Requests BAR `bar` and maps it as memory with `policy`.
    ///
    /// For BARs that hold RAM-like memory (an emulated framebuffer, say), not for registers:
    /// those take [`Device::iomap_region`].
    pub fn memremap_bar<'a>(
        &'a self,
        bar: u32,
        name: &'static CStr,
        policy: CachePolicy,
    ) -> Result<MemBar<'a>> {
        MemBar::new(self, bar, name, policy)
    }
}
