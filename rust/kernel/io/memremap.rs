// SPDX-License-Identifier: GPL-2.0

//! Mappings of device memory that behaves like RAM.
//!
//! C header: [`include/linux/io.h`](srctree/include/linux/io.h)
//!
//! Some devices expose memory that is not MMIO: emulated framebuffers whose "VRAM" is host RAM,
//! persistent memory, shared-memory windows. `memremap()` maps such memory as ordinary memory
//! with a chosen cache policy, so it is accessed with plain loads, stores and `memcpy()` rather
//! than with MMIO accessors. Which policy is right depends on who else reads the memory and how:
//! memory that another agent reads through a cacheable mapping (a hypervisor, say) must be mapped
//! write-back here, or the two aliases are not coherent on architectures such as arm64.
//!
//! # Prior art
//!
//! The `io_mem` module of the Rust-for-Linux branch and Asahi Linux's tree mapped MMIO with
//! `IoMem` (`ioremap()`); upstream's [`kernel::io::mem`](super::mem) does so under `Devres`.
//! Asahi's tree also maps non-MMIO memory with `memremap()`, as `Mem` with a set of `MemFlags`
//! tried in order. [`MemRemap`] covers the same memory but differs in three ways: it borrows
//! the bound device, so it cannot outlive the binding; it takes one [`CachePolicy`], because a
//! caller that must match another agent's mapping (the arm64 case above) has to know which
//! attribute it got; and it hands out bounds-checked block copies rather than only a raw
//! pointer, so a driver can write to the memory without `unsafe`. As there, making a mapping of
//! an arbitrary range is `unsafe`; drivers get theirs from their bus. The C precedent for mapping
//! a hypervisor's VRAM write-back is `hyperv_drm` (`ioremap_cache()`).

use crate::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    io::ResourceSize,
    prelude::*,
};
use core::ptr::NonNull;

/// The cache policy of a [`MemRemap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// Write-back cacheable, like system RAM (`MEMREMAP_WB`; Normal-WB on arm64).
    WriteBack,
    /// Uncached with write combining (`MEMREMAP_WC`; Normal-NC on arm64).
    WriteCombine,
}

impl CachePolicy {
    fn flags(self) -> usize {
        (match self {
            Self::WriteBack => bindings::MEMREMAP_WB,
            Self::WriteCombine => bindings::MEMREMAP_WC,
        }) as usize
    }
}

/// A `memremap()` mapping of a physical range, unmapped on drop.
///
/// The lifetime ties the mapping to a bound device, so it cannot outlive the binding that owns
/// the memory. Drivers get one from their bus, for a resource of theirs (e.g.
/// [`pci::Device::memremap_bar`](crate::pci::Device::memremap_bar)); [`MemRemap::new`] itself
/// is `unsafe`, as nothing in its arguments shows that the range is device memory the caller
/// owns rather than, say, system RAM in use by the kernel.
///
/// # Invariants
///
/// `addr` is the start of a live `memremap()` mapping of `size` bytes made with `policy`.
pub struct MemRemap<'a> {
    _dev: &'a Device<Bound>,
    addr: NonNull<u8>,
    size: usize,
    policy: CachePolicy,
}

// SAFETY: The mapping is plain memory usable from any thread; `MemRemap` hands out no references
// into it, only copies through raw pointers.
unsafe impl Send for MemRemap<'_> {}
// SAFETY: As above.
unsafe impl Sync for MemRemap<'_> {}

impl<'a> MemRemap<'a> {
    /// Maps `size` bytes of physical memory at `start` with `policy`.
    ///
    /// # Safety
    ///
    /// The range is memory of `dev` that the caller owns (e.g. a requested PCI region of it)
    /// for as long as the mapping exists: nothing else in the kernel uses it as memory of its
    /// own, so writes through the mapping cannot corrupt it.
    pub unsafe fn new(
        dev: &'a Device<Bound>,
        start: ResourceSize,
        size: usize,
        policy: CachePolicy,
    ) -> Result<Self> {
        if size == 0 {
            return Err(EINVAL);
        }
        // SAFETY: `memremap()` fails with NULL if it cannot map the range; the caller owns the
        // range, so mapping it (and later writing through the mapping) affects nobody else.
        let addr = unsafe { bindings::memremap(start, size, policy.flags()) };
        let addr = NonNull::new(addr.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: `addr` maps `size` bytes with `policy`.
        Ok(Self {
            _dev: dev,
            addr,
            size,
            policy,
        })
    }

    /// The size of the mapping in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The cache policy of the mapping.
    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    /// The kernel address of the mapping, for C interfaces that describe memory (e.g. an
    /// `iosys_map`); valid while `self` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.addr.as_ptr()
    }

    /// Sets `rows` lines of `line` bytes, `pitch` bytes apart from offset `offset` of the
    /// mapping, to `value`: clearing an image, say.
    ///
    /// Fails with `ERANGE`, writing nothing, if any byte lies outside the mapping or `line`
    /// exceeds `pitch`.
    pub fn fill_rows(
        &self,
        offset: usize,
        pitch: usize,
        line: usize,
        rows: usize,
        value: u8,
    ) -> Result {
        if !self.check_rows(offset, pitch, line, rows)? {
            return Ok(());
        }
        let dst = self.addr.as_ptr();
        let value = c_int::from(value);
        if line == pitch {
            // SAFETY: The `rows * line` bytes from `offset` lie inside the mapping
            // (`check_rows`). `memset` rather than `write_bytes`: the memory is shared with the
            // device.
            unsafe { bindings::memset(dst.add(offset).cast(), value, rows * line) };
            return Ok(());
        }
        for i in 0..rows {
            // SAFETY: Line `i` lies inside the mapping (`check_rows`).
            unsafe { bindings::memset(dst.add(offset + i * pitch).cast(), value, line) };
        }
        Ok(())
    }

    /// Checks that `rows` lines of `line` bytes, `pitch` bytes apart from `offset`, lie inside
    /// the mapping without overlapping each other. Returns whether there is anything to do
    /// (`false` for an empty block), or `ERANGE`.
    fn check_rows(&self, offset: usize, pitch: usize, line: usize, rows: usize) -> Result<bool> {
        if rows == 0 || line == 0 {
            return Ok(false);
        }
        if rows > 1 && line > pitch {
            return Err(ERANGE);
        }
        let end = (rows - 1)
            .checked_mul(pitch)
            .and_then(|v| v.checked_add(offset))
            .and_then(|v| v.checked_add(line))
            .ok_or(ERANGE)?;
        if end > self.size {
            return Err(ERANGE);
        }
        Ok(true)
    }
}

impl Drop for MemRemap<'_> {
    fn drop(&mut self) {
        // SAFETY: `addr` came from `memremap()` (type invariant) and is unmapped once, here.
        unsafe { bindings::memunmap(self.addr.as_ptr().cast()) };
    }
}
