// SPDX-License-Identifier: GPL-2.0
//! KMS helpers shared by the in-guest programs (`rbguest`, the tests; `rbbench`, the
//! benchmark): opening the card, finding a connector's mode and a CRTC, dumb buffers with a
//! framebuffer, the primary plane and its properties, damaged commits and the driver's
//! debugfs counters.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};

use anyhow::anyhow;
use drm::buffer::{Buffer, PlanarBuffer};
use drm::control::{
    atomic::AtomicModeReq, connector, crtc, dumbbuffer::DumbBuffer, framebuffer, plane, property,
    AtomicCommitFlags, Device as ControlDevice, Mode,
};
use drm::{ClientCapability, Device};
use drm_fourcc::DrmFourcc;

#[path = "../../common/pattern.rs"]
pub mod pattern;
#[path = "../../common/protocol.rs"]
pub mod protocol;

/// Errors are messages for the host to show.
pub use anyhow::Result;

/// A shared, readable and writable mapping of `len` bytes of `fd` from `offset`, unmapped on
/// drop.
pub struct SharedMap {
    ptr: *mut u8,
    len: usize,
}

impl SharedMap {
    /// Maps `fd` (a DRM card at a dumb buffer's offset, a PCI resource file); the kernel's
    /// refusal comes back as its errno.
    pub fn new(fd: impl AsFd, len: usize, offset: u64) -> rustix::io::Result<SharedMap> {
        // SAFETY: A new mapping at an address of the kernel's choice: it overlaps nothing of
        // ours, and is reached only through the returned object.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                fd,
                offset,
            )
        }?;
        Ok(SharedMap {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The mapped bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr..ptr + len` is mapped read-write for the life of `self`, and borrowed
        // mutably here.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: Unmapping the mapping made in `new`, no longer borrowed.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}

/// An open DRM card.
pub struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Device for Card {}
impl ControlDevice for Card {}

impl Card {
    /// Opens `RBGUEST_CARD`, or the first `/dev/dri/cardN`: a device that was unbound while a
    /// client still held it keeps its minor until that client goes, so a rebound device may
    /// come back as card1.
    pub fn open() -> Result<Card> {
        let path = std::env::var("RBGUEST_CARD").unwrap_or_else(|_| {
            (0..16)
                .map(|n| format!("/dev/dri/card{n}"))
                .find(|p| std::path::Path::new(p).exists())
                .unwrap_or_else(|| "/dev/dri/card0".into())
        });
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map(Card)
            .map_err(|e| anyhow!("open {path}: {e}"))
    }

    /// Every connector with its modes.
    pub fn connectors(&self) -> Result<Vec<connector::Info>> {
        let res = self
            .resource_handles()
            .map_err(|e| anyhow!("GETRESOURCES: {e}"))?;
        res.connectors()
            .iter()
            .map(|&c| {
                self.get_connector(c, true)
                    .map_err(|e| anyhow!("GETCONNECTOR: {e}"))
            })
            .collect()
    }
}

/// `WxH` of a mode.
pub fn mode_name(m: &Mode) -> String {
    let (w, h) = m.size();
    format!("{w}x{h}")
}

/// Parses `WxH`.
pub fn parse_size(s: &str) -> Result<(u16, u16)> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| anyhow!("bad size '{s}', want WxH"))?;
    let p = |v: &str| v.parse::<u16>().map_err(|e| anyhow!("bad size '{s}': {e}"));
    Ok((p(w)?, p(h)?))
}

/// What a scanout needs: connector, mode, CRTC.
pub struct Pipe {
    pub conn: connector::Handle,
    pub mode: Mode,
    pub crtc: crtc::Handle,
}

/// The first connected connector with its mode `size` (`WxH`), and the first CRTC.
pub fn pipe(card: &Card, size: &str) -> Result<Pipe> {
    let (w, h) = parse_size(size)?;
    let conn = card
        .connectors()?
        .into_iter()
        .find(|c| c.state() == connector::State::Connected)
        .ok_or_else(|| anyhow!("no connected connector"))?;
    let mode = *conn
        .modes()
        .iter()
        .find(|m| m.size() == (w, h))
        .ok_or_else(|| anyhow!("connector has no mode {size}"))?;
    let res = card
        .resource_handles()
        .map_err(|e| anyhow!("GETRESOURCES: {e}"))?;
    let crtc = *res.crtcs().first().ok_or_else(|| anyhow!("no CRTC"))?;
    Ok(Pipe {
        conn: conn.handle(),
        mode,
        crtc,
    })
}

/// Fills `db` with pattern `seed`.
pub fn draw(card: &Card, db: &mut DumbBuffer, seed: u32) -> Result<()> {
    draw_with(card, db, |x, y| pattern::pixel(seed, x, y))
}

/// Fills the XRGB8888 buffer `db` with `colour(x, y)` at each pixel.
pub fn draw_with(card: &Card, db: &mut DumbBuffer, colour: impl Fn(u32, u32) -> u32) -> Result<()> {
    let (w, h) = db.size();
    let pitch = db.pitch() as usize;
    let mut map = card
        .map_dumb_buffer(db)
        .map_err(|e| anyhow!("MAP_DUMB: {e}"))?;
    for y in 0..h {
        let row = &mut map[y as usize * pitch..][..w as usize * 4];
        for (x, px) in (0u32..).zip(row.chunks_exact_mut(4)) {
            px.copy_from_slice(&colour(x, y).to_le_bytes());
        }
    }
    Ok(())
}

/// Creates a dumb buffer of the mode's size holding pattern `seed`, and a framebuffer on it.
pub fn buffer(card: &Card, p: &Pipe, seed: u32) -> Result<(DumbBuffer, framebuffer::Handle)> {
    buffer_with(card, p, |x, y| pattern::pixel(seed, x, y))
}

/// Two framebuffers to flip between with atomic commits, the first one on screen.
pub struct FlipPair {
    pub p: Pipe,
    pub a: (DumbBuffer, framebuffer::Handle),
    pub b: (DumbBuffer, framebuffer::Handle),
    /// The primary plane and its `FB_ID` property.
    pub plane: plane::Handle,
    pub fb_id: property::Handle,
}

/// Sets mode `size` showing a framebuffer of pixels `a(x, y)`, makes a second one of
/// `b(x, y)`, and turns atomic commits on to flip between them.
pub fn flip_pair(
    card: &Card,
    size: &str,
    a: impl Fn(u32, u32) -> u32,
    b: impl Fn(u32, u32) -> u32,
) -> Result<FlipPair> {
    let p = pipe(card, size)?;
    let a = buffer_with(card, &p, a)?;
    let b = buffer_with(card, &p, b)?;
    card.set_crtc(p.crtc, Some(a.1), (0, 0), &[p.conn], Some(p.mode))
        .map_err(|e| anyhow!("SETCRTC {size}: {e}"))?;
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP atomic: {e}"))?;
    let (plane, props) = primary_plane(card, &p)?;
    let fb_id = props.get("FB_ID")?;
    Ok(FlipPair {
        p,
        a,
        b,
        plane,
        fb_id,
    })
}

/// Creates an XRGB8888 dumb buffer of the mode's size holding `colour(x, y)` at each pixel,
/// and a framebuffer on it.
pub fn buffer_with(
    card: &Card,
    p: &Pipe,
    colour: impl Fn(u32, u32) -> u32,
) -> Result<(DumbBuffer, framebuffer::Handle)> {
    let (w, h) = p.mode.size();
    let mut db = card
        .create_dumb_buffer((w.into(), h.into()), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| anyhow!("CREATE_DUMB {w}x{h}: {e}"))?;
    draw_with(card, &mut db, colour)?;
    let fb = card
        .add_framebuffer(&db, 24, 32)
        .map_err(|e| anyhow!("ADDFB: {e}"))?;
    Ok((db, fb))
}

/// Frees framebuffer `fb`, then its dumb buffer `db`.
pub fn free_buffer(card: &Card, db: DumbBuffer, fb: framebuffer::Handle) -> Result<()> {
    card.destroy_framebuffer(fb)
        .map_err(|e| anyhow!("RMFB: {e}"))?;
    card.destroy_dumb_buffer(db)
        .map_err(|e| anyhow!("DESTROY_DUMB: {e}"))?;
    Ok(())
}

/// The driver's debugfs state (`key: value` lines): rbochs or the Rust KMS sample.
pub fn driver_state() -> Option<String> {
    // Both drivers' files are in their DRM device's directory.
    let dir = std::fs::read_dir("/sys/kernel/debug/dri").ok()?;
    dir.flatten().find_map(|e| {
        ["rbochs_state", "rust_drm_kms_state"]
            .iter()
            .find_map(|name| std::fs::read_to_string(e.path().join(name)).ok())
    })
}

/// The numeric field `key` of a debugfs state (`key: value` lines).
pub fn state_value(state: &str, key: &str) -> Option<u64> {
    state
        .lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(k, _)| k.trim() == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// A numeric field of the driver's debugfs state.
pub fn driver_counter(key: &str) -> Option<u64> {
    state_value(&driver_state()?, key)
}

/// The primary plane of the pipe's CRTC and its properties.
pub fn primary_plane(card: &Card, p: &Pipe) -> Result<(plane::Handle, Props)> {
    card.set_client_capability(ClientCapability::UniversalPlanes, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP universal planes: {e}"))?;
    let planes = card
        .plane_handles()
        .map_err(|e| anyhow!("GETPLANERESOURCES: {e}"))?;
    let res = card
        .resource_handles()
        .map_err(|e| anyhow!("GETRESOURCES: {e}"))?;
    for h in planes {
        let info = card.get_plane(h).map_err(|e| anyhow!("GETPLANE: {e}"))?;
        if res.filter_crtcs(info.possible_crtcs()).contains(&p.crtc) {
            return Ok((h, Props::of(card, h)?));
        }
    }
    Err(anyhow!("no plane for the CRTC"))
}

/// Property names and handles of an object.
pub struct Props(Vec<(String, property::Handle)>);

impl Props {
    /// Reads the properties of `h`.
    pub fn of<H: drm::control::ResourceHandle>(card: &Card, h: H) -> Result<Props> {
        let set = card
            .get_properties(h)
            .map_err(|e| anyhow!("GETPROPERTIES: {e}"))?;
        let mut v = Vec::new();
        for id in set.as_props_and_values().0 {
            let info = card
                .get_property(*id)
                .map_err(|e| anyhow!("GETPROPERTY: {e}"))?;
            v.push((info.name().to_string_lossy().into_owned(), *id));
        }
        Ok(Props(v))
    }

    /// The handle of property `name`.
    pub fn get(&self, name: &str) -> Result<property::Handle> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| *h)
            .ok_or_else(|| anyhow!("no property {name}"))
    }
}

/// A `struct drm_mode_rect` for FB_DAMAGE_CLIPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DamageRect {
    pub x1: i32,
    pub y1: i32,
    pub x2: i32,
    pub y2: i32,
}

/// The bytes of an FB_DAMAGE_CLIPS blob holding `clips`.
pub fn damage_blob_bytes(clips: &[DamageRect]) -> Vec<u8> {
    clips
        .iter()
        .flat_map(|c| [c.x1, c.y1, c.x2, c.y2])
        .flat_map(i32::to_ne_bytes)
        .collect()
}

/// Commits `fb` on the primary plane of `p`'s CRTC again, or anew if the plane was off,
/// reporting `clips` as its damage.
pub fn commit_damage(
    card: &Card,
    p: &Pipe,
    fb: framebuffer::Handle,
    clips: &[DamageRect],
) -> Result<()> {
    card.set_client_capability(ClientCapability::Atomic, true)
        .map_err(|e| anyhow!("SET_CLIENT_CAP atomic: {e}"))?;
    let (plane, props) = primary_plane(card, p)?;
    let mut req = AtomicModeReq::new();
    req.add_property(
        plane,
        props.get("FB_ID")?,
        property::Value::Framebuffer(Some(fb)),
    );
    req.add_property(
        plane,
        props.get("CRTC_ID")?,
        property::Value::CRTC(Some(p.crtc)),
    );
    commit_with_damage(
        card,
        req,
        plane,
        props.get("FB_DAMAGE_CLIPS")?,
        &damage_blob_bytes(clips),
    )
}

/// Adds the damage `clips` (the bytes of an FB_DAMAGE_CLIPS blob) to `req` as `plane`'s
/// property `damage`, makes a blocking atomic commit, and frees the blob.
pub fn commit_with_damage(
    card: &Card,
    mut req: AtomicModeReq,
    plane: plane::Handle,
    damage: property::Handle,
    clips: &[u8],
) -> Result<()> {
    let mut bytes = clips.to_vec();
    let blob = drm_ffi::mode::create_property_blob(card.as_fd(), &mut bytes)
        .map_err(|e| anyhow!("CREATEPROPBLOB: {e}"))?
        .blob_id;
    req.add_property(plane, damage, property::Value::Blob(blob.into()));
    let res = card
        .atomic_commit(AtomicCommitFlags::empty(), req)
        .map_err(|e| anyhow!("ATOMIC with damage: {e}"));
    let _ = card.destroy_property_blob(blob.into());
    res
}

/// A framebuffer over an existing dumb buffer with a chosen size, pitch and format.
pub struct Strided {
    pub size: (u32, u32),
    pub pitch: u32,
    pub handle: drm::buffer::Handle,
    pub format: DrmFourcc,
}

impl PlanarBuffer for Strided {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> DrmFourcc {
        self.format
    }
    fn modifier(&self) -> Option<drm::buffer::DrmModifier> {
        None
    }
    fn pitches(&self) -> [u32; 4] {
        [self.pitch, 0, 0, 0]
    }
    fn handles(&self) -> [Option<drm::buffer::Handle>; 4] {
        [Some(self.handle), None, None, None]
    }
    fn offsets(&self) -> [u32; 4] {
        [0; 4]
    }
}
