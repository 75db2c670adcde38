// SPDX-License-Identifier: GPL-2.0 OR MIT

//! debugfs files of a KMS device, in its DRM directory.
//!
//! C header: [`include/drm/drm_debugfs.h`](srctree/include/drm/drm_debugfs.h)
//!
//! A driver lists its files in [`KmsDriver::DEBUGFS_FILES`], each showing what a
//! [`DebugfsShow`] writes; [`super::Registration`] adds them
//! with `drm_debugfs_add_file()` once the device is registered, to the directory where the
//! DRM core keeps the device's own files (`/sys/kernel/debug/dri/<unique name>/`, also reached
//! as `/sys/kernel/debug/dri/<minor>/`). A file shows what its function writes from the
//! registration data; once the device is unplugged, reading it fails with `ENODEV`.
//!
//! The files live as long as the DRM device, which may outlive the driver's module (a leaked
//! reference). The C hook is therefore kernel code that enters the device
//! (`drm_dev_enter()`) before it calls anything of the driver: a registered device keeps its
//! module loaded, since the teardown unregisters the device before the module goes.

use super::KmsDriver;
use crate::{
    bindings,
    drm::{
        self,
        Ioctl, //
    },
    prelude::*,
    seq_file::SeqFile,
    seq_print,
};
use core::{
    ffi::c_void,
    fmt,
    marker::PhantomData,
    ptr, //
};

/// The type-erased part of a [`DebugfsFile`] that the C hook reads.
///
/// # Safety
///
/// The caller is inside `drm_dev_enter()` of `dev`, a device of the driver whose
/// [`DebugfsFile`] `file` points to.
type ErasedShow = unsafe fn(file: *const c_void, dev: *mut bindings::drm_device, m: &SeqFile);

/// What a debugfs file shows: `key: value` lines, say, from the registration data.
pub trait DebugfsShow {
    /// The driver whose devices have the file.
    type Driver: KmsDriver;

    /// Writes the file's contents.
    fn show(
        data: &<Self::Driver as drm::Driver>::RegistrationData<'_>,
        f: &mut fmt::Formatter<'_>,
    ) -> fmt::Result;
}

/// A debugfs file of a KMS device: its name and what it shows.
///
/// # Invariants
///
/// `erased` is `DebugfsFile::show_erased` of this `T` and some [`DebugfsShow`].
#[repr(C)]
pub struct DebugfsFile<T: KmsDriver> {
    /// First, so the C hook reads it without knowing `T`.
    erased: ErasedShow,
    name: &'static CStr,
    _driver: PhantomData<fn() -> T>,
}

impl<T: KmsDriver> DebugfsFile<T> {
    /// A file `name` that shows what `S` writes.
    pub const fn new<S: DebugfsShow<Driver = T>>(name: &'static CStr) -> Self {
        // INVARIANT: `erased` is `show_erased` of `T` and `S`.
        Self {
            erased: Self::show_erased::<S>,
            name,
            _driver: PhantomData,
        }
    }

    /// Writes the contents of file `S` into `m`.
    ///
    /// # Safety
    ///
    /// As for [`ErasedShow`], with `file` a `DebugfsFile<T>`.
    unsafe fn show_erased<S: DebugfsShow<Driver = T>>(
        _file: *const c_void,
        dev: *mut bindings::drm_device,
        m: &SeqFile,
    ) {
        // SAFETY: `dev` is a device of `T` (guaranteed by the caller).
        let dev = unsafe { drm::Device::<T, Ioctl>::from_raw(dev) };
        dev.with_registration_data(|data| seq_print!(m, "{}", Shown::<S> { data }));
    }

    /// Adds the driver's files to the debugfs directory of `dev`.
    pub(super) fn add_all(dev: &drm::Device<T>) {
        for file in T::DEBUGFS_FILES {
            // SAFETY: `dev` is valid; the name and the file are `'static` (in the driver's
            // module, which the hook only reads inside `drm_dev_enter()`, see the module
            // documentation); the C core frees its entries with the device. A failure to
            // allocate leaves the file out, as it does for C drivers.
            unsafe {
                bindings::drm_debugfs_add_file(
                    dev.as_raw(),
                    file.name.as_char_ptr(),
                    Some(show_callback),
                    ptr::from_ref(file).cast_mut().cast(),
                )
            };
        }
    }
}

/// Shows one file (the `show` hook of `struct drm_debugfs_info`): non-generic kernel code,
/// which calls into the driver only inside `drm_dev_enter()`.
extern "C" fn show_callback(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: The DRM core opens its files with `single_open()` and the entry as `private`,
    // which holds the device and the data given to `drm_debugfs_add_file()`: a `DebugfsFile`
    // (`add_all`).
    let (dev, file) = unsafe {
        (
            bindings::drm_debugfs_entry_dev(m),
            bindings::drm_debugfs_entry_data(m),
        )
    };
    let mut idx = 0;
    // SAFETY: The entry holds a reference-free pointer to a device that outlives its files.
    if !unsafe { bindings::drm_dev_enter(dev, &mut idx) } {
        return ENODEV.to_errno();
    }
    // SAFETY: `file` starts with its `ErasedShow` (`#[repr(C)]`), which reads the rest as the
    // `DebugfsFile` of the device's driver; we are inside `drm_dev_enter()`; the seq_file is
    // used by this thread only while its `show` hook runs.
    unsafe {
        let erased = file.cast::<ErasedShow>().read();
        erased(file, dev, SeqFile::from_raw(m));
        bindings::drm_dev_exit(idx);
    }
    0
}

/// What file `S` shows, from the registration data.
struct Shown<'a, S: DebugfsShow> {
    data: &'a <S::Driver as drm::Driver>::RegistrationData<'a>,
}

impl<S: DebugfsShow> crate::fmt::Display for Shown<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        S::show(self.data, f)
    }
}
