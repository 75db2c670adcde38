// SPDX-License-Identifier: GPL-2.0
//! Real display clients on rbochs and, side by side, on Linux's C bochs driver: Xorg's
//! modesetting driver (it draws into the front buffer and reports what changed with DIRTYFB)
//! and weston (a compositor that page-flips between its own buffers).
//!
//! The guest's initramfs carries Debian's Xorg, xsetroot, weston and weston-simple-shm
//! (`tools/clients-initramfs.sh`). One boot serves every driver variant: C bochs, rbochs
//! double-buffered and rbochs single-buffered (`double_buffer=0`), each loaded in turn. For
//! each, Xorg paints its root window one colour then another, then a rectangle of it green and
//! back (an update of that rectangle alone), and weston shows its kiosk
//! shell's background, then weston-simple-shm's animated window over it, then the background
//! alone again once the client is gone: every step is a host screenshot polled until it shows
//! exactly the expected picture (every pixel) or a generous time runs out. Then the kernel log
//! must be clean, and rbochs double-buffered must have flipped (its debugfs `flips`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};

use crate::image::Image;
use crate::suite::guest::{parse_state, poll, state_value, State, RBOCHS_STATE};
use crate::suite::{bound_driver, kernel_log_problems, pci_name, Report};
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;

/// A driver as the clients meet it: a module and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Its name in result lines (`clients.rbochs-double.xorg`).
    pub name: &'static str,
    pub module: &'static str,
    /// The PCI driver that must be bound after loading it.
    pub pci_driver: &'static str,
    /// modprobe's parameters.
    pub params: &'static str,
    /// What rbochs's debugfs `buffering:` must say, for rbochs.
    pub buffering: Option<&'static str>,
}

/// The variants, in the order they are loaded.
pub const VARIANTS: [Variant; 3] = [
    Variant {
        name: "cbochs",
        module: "bochs",
        pci_driver: "bochs-drm",
        params: "",
        buffering: None,
    },
    Variant {
        name: "rbochs-double",
        module: "rbochs",
        pci_driver: "rbochs",
        params: "double_buffer=1",
        buffering: Some("double"),
    },
    Variant {
        name: "rbochs-single",
        module: "rbochs",
        pci_driver: "rbochs",
        params: "double_buffer=0",
        buffering: Some("single"),
    },
];

/// The colours Xorg's root window is painted, in turn.
pub const XORG_COLOURS: [u32; 2] = [0xff0000, 0x0000ff];
/// Where xrefresh paints its rectangle (X geometry).
pub const XREFRESH_GEOMETRY: &str = "256x128+64+64";
/// The bytes of XRGB8888 in xrefresh's rectangle.
pub fn xrefresh_bytes() -> u64 {
    let (w, h) = XREFRESH_GEOMETRY
        .split('+')
        .next()
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse::<u64>().ok()?, h.parse::<u64>().ok()?)))
        .unwrap_or_default();
    w * h * 4
}

/// The background weston's kiosk shell shows where no client is.
pub const WESTON_BACKGROUND: u32 = 0x00c000;
/// How many page flips rbochs double-buffered must make while weston-simple-shm animates.
const CLIENT_FLIPS: u64 = 10;

/// Xorg's configuration: the modesetting driver on `kmsdev` (there is no udev in the guest to
/// find it), no acceleration (no GL), and no input devices looked for.
pub fn xorg_conf(kmsdev: &str) -> String {
    format!(
        "Section \"ServerFlags\"\n\
         \tOption \"AutoAddDevices\" \"false\"\n\
         \tOption \"AutoEnableDevices\" \"false\"\n\
         EndSection\n\
         Section \"Device\"\n\
         \tIdentifier \"card\"\n\
         \tDriver \"modesetting\"\n\
         \tOption \"kmsdev\" \"{kmsdev}\"\n\
         \tOption \"AccelMethod\" \"none\"\n\
         EndSection\n"
    )
}

/// weston's configuration: the kiosk shell (its background is a solid colour the compositor
/// draws itself), no input required, no idle blanking.
pub fn weston_ini(background: u32) -> String {
    format!(
        "[core]\nshell=kiosk-shell.so\nrequire-input=false\nidle-time=0\n\
         [shell]\nbackground-color=0xff{background:06x}\n"
    )
}

/// A guest shell command that writes `text` to `path`.
pub fn write_file_cmd(path: &str, text: &str) -> Result<String> {
    if text.contains('\'') {
        return Err(anyhow!("cannot quote a text with ' for the guest shell"));
    }
    let lines: Vec<String> = text.lines().map(|l| format!("'{l}'")).collect();
    Ok(format!("printf '%s\\n' {} >{path}", lines.join(" ")))
}

/// A guest shell command that starts `cmd` in a session of its own, output to `log`, its pid
/// in `pidfile`. The shell that runs it does not wait for it: it is init's child, not the
/// serial shell's, whose reading a line a child's end would interrupt.
pub fn detach_cmd(cmd: &str, log: &str, pidfile: &str) -> String {
    format!("(setsid {cmd} >{log} 2>&1 </dev/null & echo $! >{pidfile})")
}

/// Whether `img` is all `colour`; the error says how many pixels are not.
pub fn all(img: &Image, colour: u32) -> Result<()> {
    img.compare(|_, _| colour)
}

/// Whether something other than `background` covers at least `min` pixels of `img`.
pub fn covered(img: &Image, background: u32, min: usize) -> Result<()> {
    let n = img.pixels.iter().filter(|&&p| p != background).count();
    if n >= min {
        Ok(())
    } else {
        Err(anyhow!(
            "only {n} of {} pixels differ from the background {background:06x}",
            img.pixels.len()
        ))
    }
}

/// rbochs's buffering and flip count from its debugfs state: `None` for a driver or kernel
/// without them.
pub fn buffering(state: &State) -> Option<(String, u64)> {
    let b = state.iter().find(|(k, _)| k == "buffering")?.1.clone();
    let flips = state_value(state, "flips").ok()?;
    Some((b, flips))
}

/// The suite's prefix in result lines: `clients` on std-VGA, `clients-bochs-display` on the
/// other.
pub fn prefix(display: &str) -> String {
    match display.split(',').next().unwrap_or(display) {
        "VGA" => "clients".to_string(),
        d => format!("clients-{d}"),
    }
}

/// One boot: the three variants, Xorg and weston on each.
pub fn clients(cfg: &VmConfig) -> Result<Report> {
    let mut rep = Report::new(&prefix(&cfg.display));
    let t0 = Instant::now();
    let mut vm = Vm::boot(cfg, scaled(cfg, 300))?;
    vm.ok("test -x /usr/lib/xorg/Xorg -a -x /usr/bin/weston || \
           { echo 'no Xorg or weston in the initramfs (make clients-initramfs)'; exit 1; }")?;
    let version = vm.ok("cat /usr/CLIENTS-VERSION")?.join(" ");
    println!("clients: {}", version.trim());
    let dev = pci_name(&mut vm)?;
    let shots = cfg.workdir.join("shots");
    std::fs::create_dir_all(&shots).map_err(|e| anyhow!("{}: {e}", shots.display()))?;
    let mut loaded: Option<&str> = None;
    let mut has_param = true;
    for v in &VARIANTS {
        let t = Instant::now();
        if v.buffering.is_some() && !has_param {
            for what in ["load", "xorg", "weston"] {
                rep.skip(
                    &format!("{}.{what}", v.name),
                    "rbochs has no double_buffer parameter (a kernel from before double \
                     buffering): it ran once as it is, as rbochs",
                );
            }
            continue;
        }
        let card = load(&mut vm, v, loaded, &dev);
        loaded = Some(v.module);
        let mut name = v.name;
        if v.buffering.is_some() && !param_exists(&mut vm, v.module)? {
            has_param = false;
            name = "rbochs";
        }
        // A problem in the kernel log fails the load but lets the clients run: they may
        // tell more.
        let card_ok = card.is_ok();
        rep.record(
            &format!("{name}.load"),
            card.and_then(|_| log_clean(&mut vm)),
        );
        if !card_ok {
            continue;
        }
        // Without the parameter there is no buffering to check.
        let v = Variant {
            buffering: v.buffering.filter(|_| has_param),
            ..*v
        };
        let dir = shots.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
        let tx = Instant::now();
        let r = xorg(&mut vm, cfg, &v, &dir);
        rep.record(&format!("{name}.xorg"), r);
        println!("clients: {name}: xorg took {} s", tx.elapsed().as_secs());
        let tw = Instant::now();
        let r = weston(&mut vm, cfg, &v, &dir);
        rep.record(&format!("{name}.weston"), r);
        println!("clients: {name}: weston took {} s", tw.elapsed().as_secs());
        println!("clients: {name}: {} s in all", t.elapsed().as_secs());
    }
    vm.shutdown()?;
    println!(
        "clients: {} s in all (boot included); screenshots in {}",
        t0.elapsed().as_secs(),
        shots.display()
    );
    Ok(rep)
}

fn scaled(cfg: &VmConfig, secs: u64) -> Duration {
    Duration::from_secs(secs).mul_f64(cfg.time_scale)
}

/// Whether `module` has the `double_buffer` parameter: its module information lists it
/// (Rust modules' parameters are not in sysfs).
fn param_exists(vm: &mut Vm, module: &str) -> Result<bool> {
    let test = format!("modinfo {module} 2>/dev/null | grep -q double_buffer");
    Ok(vm.run(&test, Duration::from_secs(60))?.0 == 0)
}

/// Loads `v` (unloading `prev` first): the card must appear, bound to `v`'s driver, and
/// rbochs's debugfs must say the buffering `v` asks for, where it has the parameter.
fn load(vm: &mut Vm, v: &Variant, prev: Option<&str>, dev: &str) -> Result<()> {
    if let Some(m) = prev {
        // Unless its load failed before it was in.
        vm.ok(&format!(
            "if grep -q '^{m} ' /proc/modules; then rmmod {m}; fi"
        ))?;
        vm.ok(&poll("! test -e /dev/dri/card0", 600, "0.1"))
            .context("/dev/dri/card0 stayed after rmmod")?;
    }
    vm.ok(&format!("modprobe {} {}", v.module, v.params))?;
    vm.ok(&poll("test -c /dev/dri/card0", 600, "0.1"))
        .context("no /dev/dri/card0 60 s after modprobe")?;
    let bound = bound_driver(vm, dev)?;
    if bound != v.pci_driver {
        return Err(anyhow!("{dev} is bound to '{bound}', not {}", v.pci_driver));
    }
    if v.buffering.is_some() && param_exists(vm, v.module)? {
        let want = v.buffering.unwrap_or_default();
        // rbochs says how it buffers once it has drawn (fbcon draws as it binds).
        let _ = vm.run(
            &poll(
                &format!("grep -qx 'buffering: {want}' {RBOCHS_STATE}"),
                600,
                "0.1",
            ),
            Duration::from_secs(120),
        )?;
        let got = state(vm)?.map(|(b, _)| b);
        if got.as_deref() != Some(want) {
            return Err(anyhow!(
                "debugfs says buffering {got:?} with {}, want {want}",
                v.params
            ));
        }
    }
    Ok(())
}

/// rbochs's buffering and flips, if its debugfs has them.
fn state(vm: &mut Vm) -> Result<Option<(String, u64)>> {
    let (_, out) = vm.run(&format!("cat {RBOCHS_STATE}"), Duration::from_secs(60))?;
    Ok(buffering(&parse_state(out.iter().map(String::as_str))))
}

/// rbochs's debugfs counter `key` (e.g. `commits`), if the driver is rbochs.
fn counter(vm: &mut Vm, v: &Variant, key: &str) -> Result<Option<u64>> {
    if v.module != "rbochs" {
        return Ok(None);
    }
    let (_, out) = vm.run(&format!("cat {RBOCHS_STATE}"), Duration::from_secs(60))?;
    state_value(&parse_state(out.iter().map(String::as_str)), key).map(Some)
}

/// The flip count of a double-buffered variant; `None` for the others.
fn flips(vm: &mut Vm, v: &Variant) -> Result<Option<u64>> {
    if v.buffering != Some("double") {
        return Ok(None);
    }
    match state(vm)? {
        Some((_, f)) => Ok(Some(f)),
        None => Err(anyhow!("rbochs's debugfs state has no buffering and flips")),
    }
}

fn log_clean(vm: &mut Vm) -> Result<()> {
    let bad = kernel_log_problems(vm)?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("kernel log reports problems:\n{}", indent(&bad)))
    }
}

/// Takes screenshots into `path` until `check` accepts one, for up to `secs` (scaled); the
/// last one stays in `path`.
fn wait_picture(
    vm: &mut Vm,
    cfg: &VmConfig,
    path: &Path,
    secs: u64,
    check: impl Fn(&Image) -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + scaled(cfg, secs);
    loop {
        vm.screendump(path)?;
        let img = Image::load(path)?;
        match check(&img) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "{} after {secs} s ({}x{})",
                    path.display(),
                    img.width,
                    img.height
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Waits up to `secs` for the program whose pid is in `pidfile` to listen on `sock`; fails at
/// once should it end before.
fn wait_socket(vm: &mut Vm, secs: u64, what: &str, sock: &str, pidfile: &str) -> Result<()> {
    let cond = format!("test -S {sock} || ! kill -0 $(cat {pidfile}) 2>/dev/null");
    vm.run(
        &poll(&cond, secs as u32 * 2, "0.5"),
        Duration::from_secs(secs + 60),
    )?;
    let (rc, _) = vm.run(&format!("test -S {sock}"), Duration::from_secs(60))?;
    if rc == 0 {
        return Ok(());
    }
    let (alive, _) = vm.run(
        &format!("kill -0 $(cat {pidfile}) 2>/dev/null"),
        Duration::from_secs(60),
    )?;
    if alive == 0 {
        Err(anyhow!("{what} made no socket in {secs} s"))
    } else {
        Err(anyhow!("{what} ended without making its socket"))
    }
}

/// Stops the process whose pid is in `pidfile` and waits for it to end.
fn stop(vm: &mut Vm, pidfile: &str) -> Result<()> {
    vm.ok(&format!(
        "p=$(cat {pidfile} 2>/dev/null) || exit 0; kill $p 2>/dev/null; {}; \
         if kill -0 $p 2>/dev/null; then kill -9 $p; echo \"$p did not end on SIGTERM\"; exit 1; fi",
        poll("! kill -0 $p 2>/dev/null", 600, "0.1")
    ))
    .map(|_| ())
}

/// Xorg's errors every run has: no input drivers (none is wanted), no D-Bus, no GLX.
const XORG_NOISE: &str =
    r#"input driver|module "(kbd|mouse|libinput|glx)"|dbus|^\[ *[0-9.]+\] \(EE\) *$"#;

/// What a client's log says when a step fails: its errors, or its tail.
fn client_log(vm: &mut Vm, log: &str, errors: &str, noise: &str) -> String {
    match vm.run(
        &format!(
            "e=$(grep -aE '{errors}' {log} | grep -avE '{noise}' | tail -n 15); \
             if [ -n \"$e\" ]; then echo \"$e\"; else tail -n 15 {log}; fi"
        ),
        Duration::from_secs(60),
    ) {
        Ok((_, out)) if !out.is_empty() => format!("\n  {log}:\n{}", indent(&out)),
        _ => String::new(),
    }
}

fn png(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.png"))
}

/// Xorg with the modesetting driver: the root window red, then blue, each on screen whole,
/// and still blue whole after a rectangle of it alone was updated.
fn xorg(vm: &mut Vm, cfg: &VmConfig, v: &Variant, dir: &Path) -> Result<()> {
    let r = xorg_steps(vm, cfg, v, dir);
    let log = match &r {
        Err(_) => client_log(vm, "/tmp/Xorg.log", r"\(EE\)", XORG_NOISE),
        Ok(()) => String::new(),
    };
    let stopped = stop(vm, "/tmp/Xorg.pid").context("stopping Xorg");
    let logged = log_clean(vm);
    r.map_err(|e| anyhow!("{e:#}{log}"))?;
    stopped?;
    logged
}

fn xorg_steps(vm: &mut Vm, cfg: &VmConfig, v: &Variant, dir: &Path) -> Result<()> {
    vm.ok(&write_file_cmd(
        "/tmp/xorg.conf",
        &xorg_conf("/dev/dri/card0"),
    )?)?;
    vm.ok("rm -f /tmp/Xorg.log /tmp/Xorg.pid /tmp/.X11-unix/X0; mkdir -p /tmp/.X11-unix")?;
    let before = flips(vm, v)?;
    vm.ok(&detach_cmd(
        "/usr/lib/xorg/Xorg :0 -config /tmp/xorg.conf -nolisten tcp -noreset -logfile /tmp/Xorg.log",
        "/tmp/Xorg.out",
        "/tmp/Xorg.pid",
    ))?;
    let secs = scaled(cfg, 300).as_secs();
    wait_socket(vm, secs, "Xorg", "/tmp/.X11-unix/X0", "/tmp/Xorg.pid")?;
    for (i, c) in XORG_COLOURS.iter().enumerate() {
        // xsetroot waits for the server to take the connection and the request.
        let (rc, out) = vm.run(
            &format!("timeout {secs} /usr/bin/xsetroot -display :0 -solid '#{c:06x}'"),
            Duration::from_secs(secs + 60),
        )?;
        if rc != 0 {
            return Err(anyhow!("xsetroot exited {rc}:\n{}", indent(&out)));
        }
        wait_picture(
            vm,
            cfg,
            &png(dir, &format!("xorg-{i}-{c:06x}")),
            120,
            |img| all(img, *c),
        )
        .with_context(|| format!("the root window painted {c:06x}"))?;
    }
    // A rectangle painted and exposed again, twice: each an update of that rectangle alone,
    // the same colour as before. Double buffering that drew only it into the hidden frame
    // would show that frame's older picture, red, around it.
    let last = XORG_COLOURS[XORG_COLOURS.len() - 1];
    for _ in 0..2 {
        let commits = counter(vm, v, "commits")?;
        let (rc, out) = vm.run(
            &format!(
                "timeout {secs} /usr/bin/xrefresh -display :0 -solid '#00ff00' \
                 -geometry {XREFRESH_GEOMETRY}"
            ),
            Duration::from_secs(secs + 60),
        )?;
        if rc != 0 {
            return Err(anyhow!("xrefresh exited {rc}:\n{}", indent(&out)));
        }
        if let Some(c) = commits {
            // On rbochs, wait for the update to reach the driver, so that the picture below
            // is not the one from before it.
            let (rc, _) = vm.run(
                &poll(
                    &format!("[ $(sed -n 's/^commits: //p' {RBOCHS_STATE}) -gt {c} ] 2>/dev/null"),
                    secs as u32 * 2,
                    "0.5",
                ),
                Duration::from_secs(secs + 60),
            )?;
            if rc != 0 {
                return Err(anyhow!(
                    "no commit reached rbochs in {secs} s after xrefresh"
                ));
            }
        }
    }
    if v.module == "rbochs" {
        // That the updates were partial and rbochs copied no more than they need: the
        // rectangle into the frame on screen, or, double-buffered, the rectangle and what the
        // hidden frame lacks besides, the previous update's rectangle (never the whole frame).
        let bytes = counter(vm, v, "last_bytes")?.unwrap_or_default();
        let most = xrefresh_bytes() * if v.buffering == Some("double") { 2 } else { 1 };
        if bytes == 0 || bytes > most {
            return Err(anyhow!(
                "a partial update of xrefresh's rectangle copied {bytes} bytes, want at most {most}"
            ));
        }
    }
    wait_picture(vm, cfg, &png(dir, "xorg-2-partial"), 120, |img| {
        all(img, last)
    })
    .with_context(|| format!("the root window {last:06x} after a partial update"))?;
    if let Some(b) = before {
        let a = flips(vm, v)?.unwrap_or(b);
        if a <= b {
            return Err(anyhow!(
                "rbochs did not flip for Xorg (flips {b} before, {a} after)"
            ));
        }
        println!("clients: {}: Xorg: {} flips", v.name, a - b);
    }
    Ok(())
}

/// weston: the kiosk shell's background whole, weston-simple-shm's window over it (with page
/// flips), and the background whole again once the client has gone.
fn weston(vm: &mut Vm, cfg: &VmConfig, v: &Variant, dir: &Path) -> Result<()> {
    let r = weston_steps(vm, cfg, v, dir);
    let log = match &r {
        Err(_) => client_log(vm, "/tmp/weston.log", "[Ee]rror|[Ff]ail|[Cc]annot", "^$"),
        Ok(()) => String::new(),
    };
    let client = stop(vm, "/tmp/shm.pid").context("stopping weston-simple-shm");
    let stopped = stop(vm, "/tmp/weston.pid").context("stopping weston");
    let logged = log_clean(vm);
    r.map_err(|e| anyhow!("{e:#}{log}"))?;
    client?;
    stopped?;
    logged
}

fn weston_steps(vm: &mut Vm, cfg: &VmConfig, v: &Variant, dir: &Path) -> Result<()> {
    let bg = WESTON_BACKGROUND;
    vm.ok(&write_file_cmd("/tmp/weston.ini", &weston_ini(bg))?)?;
    vm.ok(
        "rm -rf /tmp/xdg /tmp/weston.log /tmp/weston.pid /tmp/shm.pid; \
           mkdir -m 700 /tmp/xdg",
    )?;
    let before = flips(vm, v)?;
    vm.ok(&detach_cmd(
        "env XDG_RUNTIME_DIR=/tmp/xdg LIBSEAT_BACKEND=builtin /usr/bin/weston \
         --config=/tmp/weston.ini --backend=drm --renderer=pixman --drm-device=card0 \
         --continue-without-input --socket=wayland-rb --log=/tmp/weston.log",
        "/tmp/weston.out",
        "/tmp/weston.pid",
    ))?;
    let secs = scaled(cfg, 300).as_secs();
    wait_socket(vm, secs, "weston", "/tmp/xdg/wayland-rb", "/tmp/weston.pid")?;
    wait_picture(vm, cfg, &png(dir, "weston-0-background"), 120, |img| {
        all(img, bg)
    })
    .context("weston's background")?;
    let shown = flips(vm, v)?;
    vm.ok(&detach_cmd(
        "env XDG_RUNTIME_DIR=/tmp/xdg WAYLAND_DISPLAY=wayland-rb /usr/bin/weston-simple-shm",
        "/tmp/shm.out",
        "/tmp/shm.pid",
    ))?;
    // The client's window: at least a 100x100 square of it.
    wait_picture(vm, cfg, &png(dir, "weston-1-client"), 120, |img| {
        covered(img, bg, 100 * 100)
    })
    .context("weston-simple-shm's window")?;
    if let Some(f) = shown {
        // Its frames, each a page flip.
        let want = f + CLIENT_FLIPS;
        let (rc, _) = vm.run(
            &poll(
                &format!("[ $(sed -n 's/^flips: //p' {RBOCHS_STATE}) -ge {want} ] 2>/dev/null"),
                secs as u32 * 2,
                "0.5",
            ),
            Duration::from_secs(secs + 60),
        )?;
        if rc != 0 {
            let now = flips(vm, v)?.unwrap_or(f);
            return Err(anyhow!(
                "rbochs flipped {} times in {secs} s while weston-simple-shm ran, want {CLIENT_FLIPS}",
                now - f
            ));
        }
    }
    stop(vm, "/tmp/shm.pid").context("stopping weston-simple-shm")?;
    wait_picture(vm, cfg, &png(dir, "weston-2-background"), 120, |img| {
        all(img, bg)
    })
    .context("weston's background once the client has gone")?;
    if let Some(b) = before {
        let a = flips(vm, v)?.unwrap_or(b);
        if a <= b {
            return Err(anyhow!(
                "rbochs did not flip for weston (flips {b} before, {a} after)"
            ));
        }
        println!("clients: {}: weston: {} flips", v.name, a - b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorg_configuration() {
        let c = xorg_conf("/dev/dri/card0");
        assert!(c.contains("\tDriver \"modesetting\"\n"), "{c}");
        assert!(
            c.contains("\tOption \"kmsdev\" \"/dev/dri/card0\"\n"),
            "{c}"
        );
        assert!(c.contains("\"AutoAddDevices\" \"false\""), "{c}");
        assert_eq!(c.matches("EndSection").count(), 2);
        assert_eq!(c.matches("Section \"").count(), 2);
    }

    #[test]
    fn weston_configuration() {
        let c = weston_ini(0x00c000);
        assert!(c.contains("shell=kiosk-shell.so\n"), "{c}");
        assert!(
            c.contains("\n[shell]\nbackground-color=0xff00c000\n"),
            "{c}"
        );
        assert!(c.contains("idle-time=0\n"), "{c}");
    }

    #[test]
    fn guest_commands() {
        assert_eq!(
            write_file_cmd("/tmp/f", "a \"b\"\n\tc\n").unwrap(),
            "printf '%s\\n' 'a \"b\"' '\tc' >/tmp/f"
        );
        assert!(write_file_cmd("/tmp/f", "it's").is_err());
        assert_eq!(
            detach_cmd("X :0", "/tmp/l", "/tmp/p"),
            "(setsid X :0 >/tmp/l 2>&1 </dev/null & echo $! >/tmp/p)"
        );
    }

    fn img(pixels: Vec<u32>) -> Image {
        Image {
            width: pixels.len() as u32,
            height: 1,
            pixels,
        }
    }

    #[test]
    fn pictures() {
        assert!(all(&img(vec![0xff0000; 4]), 0xff0000).is_ok());
        let e = all(&img(vec![0xff0000, 0xfe0000, 0xff0000]), 0xff0000).unwrap_err();
        assert!(e.to_string().starts_with("1 of 3 pixels differ"), "{e}");
        assert!(covered(&img(vec![1, 2, 2, 1]), 1, 2).is_ok());
        let e = covered(&img(vec![1, 2, 1, 1]), 1, 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "only 1 of 4 pixels differ from the background 000001"
        );
    }

    #[test]
    fn rbochs_state() {
        let s = parse_state(["buffering: double", "frame_shown: 1", "flips: 42"]);
        assert_eq!(buffering(&s), Some(("double".to_string(), 42)));
        // A kernel from before double buffering.
        let s = parse_state(["vram_cache: write-combine", "commits: 3"]);
        assert_eq!(buffering(&s), None);
    }

    #[test]
    fn partial_update_size() {
        assert_eq!(xrefresh_bytes(), 256 * 128 * 4);
    }

    #[test]
    fn names() {
        assert_eq!(prefix("VGA"), "clients");
        assert_eq!(prefix("VGA,xres=1024"), "clients");
        assert_eq!(prefix("bochs-display"), "clients-bochs-display");
        let names: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
        assert_eq!(names, ["cbochs", "rbochs-double", "rbochs-single"]);
    }
}
