// SPDX-License-Identifier: GPL-2.0
// expect: compile-error E0277
//! Issue 19, hole 3: `Registration` was `Sync` with `&self` suspend and resume: two threads
//! resuming one suspended registration freed the saved state twice (KASAN, then an oops in
//! `drm_atomic_helper_commit_duplicated_state`). It is `Send` but not `Sync` now, so it cannot
//! be shared with a second thread.

use kernel::{prelude::*, sync::Arc, workqueue};
include!("display.rs");
display!(
    name: c"misuse_resume_from_two_threads",
    data: NoData,
    modeset: Some(kms::modeset_ops::<Self>()),
    get_modes: modes_1024x768,
);

case_module!("misuse_resume_from_two_threads");

struct Misuse;

impl kernel::Module for Misuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let faux = KBox::new(faux::Registration::new(c"misuse_resume_two", None)?, GFP_KERNEL)?;
        let fdev: &'static faux::Device<Bound> = KBox::leak(faux).as_ref();
        let reg = kms::Registration::new(fdev, configured(fdev)?, no_data, 0)?;
        reg.suspend()?;
        let reg = Arc::new(reg, GFP_KERNEL)?;
        for _ in 0..2 {
            let reg = reg.clone();
            // error[E0277]: `Cell<bool>` cannot be shared between threads safely.
            workqueue::system().try_spawn(GFP_KERNEL, move || {
                let _ = reg.resume();
            })?;
        }
        Ok(Self)
    }
}
