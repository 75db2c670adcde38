// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0133
//! `drm::Registration::new`, the core (non-KMS) registration, is an `unsafe fn`: its caller
//! must promise the registration is not leaked. Calling it from safe code must not compile.

use kernel::{
    device::DeviceContext,
    drm::{self, gem, kms},
    faux,
    prelude::*,
};

module! {
    type: Misuse,
    name: "core_registration_without_unsafe",
    authors: ["rbochs developers"],
    description: "misuse case: the core DRM registration from safe code",
    license: "GPL",
}

struct Misuse {
    _faux: faux::Registration,
}

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = faux::Registration::new(c"misuse_core_reg", None)?;
        let fdev: &faux::Device<kernel::device::Bound> = faux.as_ref();
        let drm = drm::UnregisteredDevice::<Drv>::new(fdev, Ok(()))?;
        let reg = drm::Registration::new(fdev.as_ref(), drm, Ok::<(), Error>(()), 0)?;
        core::mem::forget(reg);
        Ok(Self { _faux: faux })
    }
}

struct Drv;

#[vtable]
impl drm::Driver for Drv {
    type Data = ();
    type RegistrationData<'a> = ();
    type File = kms::PlainFile<Self>;
    type Object = gem::shmem::Object<kms::PlainObject<Self>>;
    type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

    const INFO: drm::DriverInfo = drm::DriverInfo {
        major: 1,
        minor: 0,
        patchlevel: 0,
        name: c"core_registration",
        desc: c"misuse case",
    };
    const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
}
