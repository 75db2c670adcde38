// SPDX-License-Identifier: GPL-2.0

//! DRM driver for the bochs display interface of QEMU's std-VGA and bochs-display devices.
//!
//! See `Documentation/gpu/rbochs.rst` for why video memory is mapped cacheable on arm64.

mod driver;
mod frames;
mod hw;
mod kms;

use hw::VramCache;

kernel::module_kms_pci_driver! {
    type: driver::RbochsPciDriver,
    name: "rbochs",
    authors: ["rbochs developers"],
    description: "DRM driver for QEMU std-VGA and bochs-display, coherent on arm64",
    license: "GPL",
    params: {
        // For diagnosis, not for tuning: `wc` maps video memory as C bochs does, so a user who
        // sees a stale or torn screen can tell the mapping from the rest of the driver without
        // rebuilding, and `wb` forces the cacheable mapping where `auto` would not choose it.
        vram_cache: VramCache {
            default: VramCache::Auto,
            description: "Video memory mapping: auto (write-back on arm64), wb or wc",
        },
        // For diagnosis too: `0` draws into the frame on screen, as C bochs does, to tell a
        // display problem of the flips from one of the copies.
        double_buffer: bool {
            default: true,
            description: "Flip between two frames of video memory where they fit (0: never)",
        },
        defx: u32 {
            default: 1024,
            description: "Preferred width without EDID",
        },
        defy: u32 {
            default: 768,
            description: "Preferred height without EDID",
        },
    },
}
