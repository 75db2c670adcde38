// SPDX-License-Identifier: GPL-2.0
//! What the fuzzer knows of the device and has created, and its random numbers.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use anyhow::anyhow;
use drm_ffi::drm_mode_modeinfo;
use drm_ffi::mode;
use rbguest::Result;

/// xorshift64*: small, fast and reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        (!v.is_empty()).then(|| v[self.below(v.len() as u64) as usize])
    }

    /// A 32-bit value that is often on an edge: 0, 1, powers of two, maxima, or small.
    pub fn edgy32(&mut self) -> u32 {
        match self.below(10) {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => i32::MAX as u32,
            4 => 1 << self.below(32),
            5 => (1 << self.below(32)) - 1,
            6 => self.below(4096) as u32,
            7 => 0x8000_0000 | self.below(16) as u32,
            _ => self.next() as u32,
        }
    }

    /// A size in pixels: mostly plausible, sometimes absurd.
    pub fn dim(&mut self) -> u32 {
        if self.chance(80) {
            1 + self.below(2048) as u32
        } else {
            self.edgy32()
        }
    }

    /// A signed coordinate, sometimes far outside any framebuffer.
    pub fn coord(&mut self) -> i32 {
        if self.chance(70) {
            self.below(2200) as i32 - 100
        } else {
            self.edgy32() as i32
        }
    }
}

/// What the fuzzer knows about the device and what it has created.
pub struct World {
    pub crtcs: Vec<u32>,
    pub connectors: Vec<u32>,
    pub planes: Vec<u32>,
    /// Properties per object: (object id, object type, property ids).
    pub props: Vec<(u32, u32, Vec<u32>)>,
    /// Property ids by object type and name (`FB_ID` of planes, `MODE_ID` of CRTCs...).
    pub named: BTreeMap<(u32, String), u32>,
    pub modes: Vec<drm_mode_modeinfo>,
    pub dumbs: Vec<(u32, u32, u32, u32)>, // handle, width, height, pitch
    /// Framebuffers: id, width, height.
    pub fbs: Vec<(u32, u32, u32)>,
    pub blobs: Vec<u32>,
}

pub const FORMATS: [u32; 5] = [
    0x3432_5258, // XRGB8888
    0x3432_5842, // BGRX8888
    0x3432_5241, // ARGB8888
    0x3631_4752, // RGB565
    0x3231_564e, // NV12
];

/// Largest dumb buffer the fuzzer keeps (bytes); framebuffers pin their buffers' pages.
pub const MAX_KEPT: u64 = 8 << 20;

pub const OBJ_CRTC: u32 = 0xcccc_cccc;

pub const OBJ_CONNECTOR: u32 = 0xc0c0_c0c0;

pub const OBJ_PLANE: u32 = 0xeeee_eeee;

impl World {
    pub fn discover(fd: BorrowedFd<'_>) -> Result<World> {
        let (mut crtcs, mut connectors) = (Vec::new(), Vec::new());
        mode::get_resources(fd, None, Some(&mut crtcs), Some(&mut connectors), None)
            .map_err(|e| anyhow!("GETRESOURCES: {e}"))?;
        let mut planes = Vec::new();
        let _ = drm_ffi::set_capability(fd, 2 /* DRM_CLIENT_CAP_UNIVERSAL_PLANES */, true);
        let _ = drm_ffi::set_capability(fd, 3 /* DRM_CLIENT_CAP_ATOMIC */, true);
        mode::get_plane_resources(fd, Some(&mut planes))
            .map_err(|e| anyhow!("GETPLANERESOURCES: {e}"))?;
        let mut props = Vec::new();
        let mut named = BTreeMap::new();
        let objs = crtcs
            .iter()
            .map(|&c| (c, OBJ_CRTC))
            .chain(connectors.iter().map(|&c| (c, OBJ_CONNECTOR)))
            .chain(planes.iter().map(|&p| (p, OBJ_PLANE)));
        for (id, ty) in objs {
            let (mut ids, mut vals) = (Vec::new(), Vec::new());
            if mode::get_properties(fd, id, ty, Some(&mut ids), Some(&mut vals)).is_ok() {
                for &p in &ids {
                    if let Ok(info) = mode::get_property(fd, p, None, None) {
                        let name: Vec<u8> = info
                            .name
                            .iter()
                            .take_while(|&&c| c != 0)
                            // `c_char` is `u8` on arm64 and `i8` on x86_64.
                            .map(|&c| {
                                #[allow(clippy::unnecessary_cast)]
                                let b = c as u8;
                                b
                            })
                            .collect();
                        named.insert((ty, String::from_utf8_lossy(&name).into_owned()), p);
                    }
                }
                props.push((id, ty, ids));
            }
        }
        let mut modes = Vec::new();
        for &c in &connectors {
            let mut m = Vec::new();
            if mode::get_connector(fd, c, None, None, Some(&mut m), None, false).is_ok() {
                modes.extend(m);
            }
        }
        Ok(World {
            crtcs,
            connectors,
            planes,
            props,
            named,
            modes,
            dumbs: Vec::new(),
            fbs: Vec::new(),
            blobs: Vec::new(),
        })
    }

    /// A valid id from `pool` most of the time, otherwise anything.
    pub fn id(&self, rng: &mut Rng, pool: &[u32]) -> u32 {
        match rng.pick(pool) {
            Some(v) if rng.chance(85) => v,
            _ => rng.edgy32(),
        }
    }

    pub fn fb(&self, rng: &mut Rng) -> u32 {
        if rng.chance(10) {
            0
        } else {
            let ids: Vec<u32> = self.fbs.iter().map(|f| f.0).collect();
            self.id(rng, &ids)
        }
    }

    pub fn prop(&self, ty: u32, name: &str) -> Option<u32> {
        self.named.get(&(ty, name.to_string())).copied()
    }

    pub fn mode(&self, rng: &mut Rng) -> drm_mode_modeinfo {
        let mut m = rng.pick(&self.modes).unwrap_or_default();
        if rng.chance(30) {
            // Mangle a timing field or two.
            for _ in 0..=rng.below(3) {
                let v = rng.edgy32() as u16;
                match rng.below(8) {
                    0 => m.hdisplay = v,
                    1 => m.vdisplay = v,
                    2 => m.htotal = v,
                    3 => m.vtotal = v,
                    4 => m.hsync_start = v,
                    5 => m.vsync_end = v,
                    6 => m.clock = rng.edgy32(),
                    _ => m.flags = rng.edgy32(),
                }
            }
        }
        m
    }

    /// A property value: ids of the right kinds, coordinates in 16.16, blobs, or noise.
    pub fn value(&self, rng: &mut Rng) -> u64 {
        match rng.below(8) {
            0 => u64::from(self.fb(rng)),
            1 => u64::from(self.id(rng, &self.crtcs)),
            2 => u64::from(self.id(rng, &self.blobs)),
            3 => u64::from(rng.dim()) << 16,
            4 => (rng.coord() as i64 as u64) << 16,
            5 => rng.below(2),
            6 => u64::from(rng.edgy32()),
            _ => rng.next(),
        }
    }
}
