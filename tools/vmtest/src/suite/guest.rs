// SPDX-License-Identifier: GPL-2.0
//! Talking to the guest: what `rbguest info` and debugfs say, the display device in sysfs,
//! the VRAM mapping a driver creates, and the in-guest clients the host drives.

use std::time::Duration;

use anyhow::anyhow;

use super::Driver;
use crate::protocol;
use crate::ptdump;
use crate::vm::{indent, Vm};
use crate::Result;

/// Parsed `rbguest info`.
#[derive(Debug, Default)]
pub struct CardInfo {
    pub driver: String,
    pub connected: bool,
    pub modes: Vec<(u32, u32)>,
    pub preferred: Option<(u32, u32)>,
}

pub fn parse_info(lines: &[String]) -> Result<CardInfo> {
    let mut ci = CardInfo::default();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["driver", name] => ci.driver = name.to_string(),
            ["connector", _, _, state] => ci.connected |= *state == "Connected",
            ["mode", size, _, rest @ ..] => {
                let (a, b) = size
                    .split_once('x')
                    .ok_or_else(|| anyhow!("bad mode line '{l}'"))?;
                let m = (
                    a.parse().map_err(|_| anyhow!("bad mode '{l}'"))?,
                    b.parse().map_err(|_| anyhow!("bad mode '{l}'"))?,
                );
                ci.modes.push(m);
                if rest.contains(&"preferred") {
                    ci.preferred.get_or_insert(m);
                }
            }
            _ => {}
        }
    }
    if ci.driver.is_empty() {
        return Err(anyhow!(
            "no driver line in rbguest info output:\n{}",
            indent(lines)
        ));
    }
    Ok(ci)
}

/// Runs and parses `rbguest info`.
pub fn card_info(vm: &mut Vm) -> Result<CardInfo> {
    vm.ok("rbguest info").and_then(|l| parse_info(&l))
}

/// Runs the shell command `what` with `$d` set to the sysfs directory of the first
/// bochs-class device (1234:1111), and returns its first line of output.
fn bochs_pci(vm: &mut Vm, what: &str) -> Result<Option<String>> {
    let out = vm.ok(&format!(
        "for d in /sys/bus/pci/devices/*; do \
         [ \"$(cat $d/vendor):$(cat $d/device)\" = 0x1234:0x1111 ] && {what} && break; done"
    ))?;
    Ok(out.into_iter().next())
}

/// PCI BAR sizes of the first bochs-class device (1234:1111).
pub fn vram_size(vm: &mut Vm) -> Result<u64> {
    let line = bochs_pci(vm, "head -n1 $d/resource")?
        .ok_or_else(|| anyhow!("no 1234:1111 device in /sys/bus/pci"))?;
    let w: Vec<u64> = line
        .split_whitespace()
        .map(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| anyhow!("bad resource line '{line}': {e}"))?;
    match w.as_slice() {
        [start, end, ..] if end > start => Ok(end - start + 1),
        _ => Err(anyhow!("BAR0 not assigned: '{line}'")),
    }
}

/// The PCI driver the device `dev` (a PCI name) is bound to, or `""` when none is.
pub fn bound_driver(vm: &mut Vm, dev: &str) -> Result<String> {
    let out = vm.ok(&format!(
        "d=$(readlink /sys/bus/pci/devices/{dev}/driver) && basename \"$d\"; true"
    ))?;
    Ok(out
        .first()
        .map(|s| s.trim().to_string())
        .unwrap_or_default())
}

/// The PCI name (`0000:00:01.0`) of the display device.
pub fn pci_name(vm: &mut Vm) -> Result<String> {
    bochs_pci(vm, "basename $d")?.ok_or_else(|| anyhow!("no 1234:1111 device"))
}

/// Guest shell test: fbcon is bound to a framebuffer (the test kernels have no /dev/fb*).
pub const FBCON_BOUND: &str =
    "grep -qs 1 $(grep -ls 'frame buffer' /sys/class/vtconsole/*/name | sed 's/name$/bind/')";

/// A guest shell command that polls `cond` up to `tries` times, `pause` seconds apart, and
/// ends with `cond`'s status.
pub fn poll(cond: &str, tries: u32, pause: &str) -> String {
    format!("for _w in $(seq {tries}); do {cond} && break; sleep {pause}; done; {cond}")
}

/// Polls `cond` in the guest (every 0.1 s, for up to 60 s: a loaded host slows a debug
/// kernel under TCG down several times) until it holds.
pub fn wait_guest(vm: &mut Vm, cond: &str) -> Result<()> {
    vm.ok(&poll(cond, 600, "0.1"))
        .map(|_| ())
        .map_err(|e| anyhow!("waited 60 s for it: {e}"))
}

/// `key: value` pairs of a debugfs state file or of what a client printed.
pub type State = Vec<(String, String)>;

/// The `key: value` lines among `lines`.
pub fn parse_state<'a>(lines: impl IntoIterator<Item = &'a str>) -> State {
    lines
        .into_iter()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// rbochs's debugfs state, in the directory of its DRM minor (`dri/N`, a link to the device's
/// own `dri/<PCI address>`; guests here have fewer than ten cards).
pub const RBOCHS_STATE: &str = "/sys/kernel/debug/dri/[0-9]/rbochs_state";

/// The KMS sample's debugfs state, in the directory of its DRM minor.
pub const SAMPLE_STATE: &str = "/sys/kernel/debug/dri/[0-9]/rust_drm_kms_state";

/// A debugfs state file (`path` may be a shell glob) as `key: value` pairs.
pub fn debugfs_state(vm: &mut Vm, path: &str) -> Result<State> {
    let out = vm.ok(&format!("cat {path}"))?;
    Ok(parse_state(out.iter().map(String::as_str)))
}

pub fn state_value(state: &[(String, String)], key: &str) -> Result<u64> {
    state
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| anyhow!("debugfs state has no numeric '{key}': {state:?}"))
}

/// Runs the shell command `action` and returns the VRAM mapping it added to the kernel's
/// page tables.
pub fn new_mapping(vm: &mut Vm, action: &str) -> Result<ptdump::Region> {
    let vram = vram_size(vm)?;
    vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.before")?;
    vm.ok(action)?;
    let new = vm.ok("cat /sys/kernel/debug/kernel_page_tables > /tmp/pt.after; \
         grep -vxFf /tmp/pt.before /tmp/pt.after; true")?;
    ptdump::find_region(&ptdump::parse(&new.join("\n")), vram)
}

/// Loads `drv` with module parameters `args` and reports the memory type of the VRAM mapping
/// it creates.
pub fn load_and_map_type(vm: &mut Vm, drv: &Driver, args: &str) -> Result<ptdump::Region> {
    new_mapping(
        vm,
        &format!("modprobe {} {args} && test -c /dev/dri/card0", drv.module),
    )
}

/// Runs the `rbguest` command `cmd`, which prints [`protocol::READY`] once the screen is in
/// the state to check, calls `check` then with the lines printed so far, and lets the command
/// finish (it waits for a line on stdin).
pub fn with_client(
    vm: &mut Vm,
    cmd: &str,
    check: impl FnOnce(&mut Vm, &[String]) -> Result<()>,
) -> Result<()> {
    let n = vm.start(cmd)?;
    let ready = vm.wait_for(
        |l| l.contains(protocol::READY) || l.contains(protocol::ERROR),
        Duration::from_secs(60),
    );
    let res = ready.and_then(|lines| {
        if lines.last().is_some_and(|l| l.contains(protocol::ERROR)) {
            return Err(anyhow!(lines.join("\n")));
        }
        check(vm, &lines)
    });
    vm.send("")?;
    let (rc, lines) = vm.finish(n, Duration::from_secs(60))?;
    res?;
    if rc != 0 {
        return Err(anyhow!("{cmd} exited {rc}:\n{}", indent(&lines)));
    }
    Ok(())
}

/// The guest shell command that starts `rbguest hold` in the background at 1024x768, showing
/// pattern `seed` for `secs` seconds, its output in `log`.
pub fn hold_cmd(seed: u32, secs: u32, log: &str) -> String {
    format!("rbguest hold 1024x768 {seed} {secs} > {log} 2>&1 < /dev/null &")
}

/// Starts a client in the background that shows pattern `seed` and holds the card with the
/// buffer mapped for `secs` seconds (`/tmp/hold.log`, pid in `/tmp/hold.pid`), and waits
/// until it does.
pub fn start_holder(vm: &mut Vm, seed: u32, secs: u32) -> Result<()> {
    vm.ok(&format!(
        "{} echo $! > /tmp/hold.pid",
        hold_cmd(seed, secs, "/tmp/hold.log")
    ))?;
    wait_guest(vm, &format!("grep -q {} /tmp/hold.log", protocol::HOLDING))
}

/// Waits for the holding client to end by itself and returns what it printed.
pub fn holder_exit(vm: &mut Vm) -> Result<Vec<String>> {
    vm.ok("wait $(cat /tmp/hold.pid); cat /tmp/hold.log")
}

/// Ends the holding client, whatever state it is in.
pub fn stop_holder(vm: &mut Vm) {
    let _ = vm.run("kill $(cat /tmp/hold.pid); wait", Duration::from_secs(60));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn info_parsing() -> Result<()> {
        let ci = parse_info(&lines(
            "driver bochs-drm\nconnector 35 Virtual-1 Connected\nmode 1112x834 60 preferred\nmode 1024x768 60\n",
        ))?;
        assert_eq!(ci.driver, "bochs-drm");
        assert!(ci.connected);
        assert_eq!(ci.preferred, Some((1112, 834)));
        assert_eq!(ci.modes, vec![(1112, 834), (1024, 768)]);
        assert!(parse_info(&lines("mode 1x1 60\n")).is_err());
        Ok(())
    }

    #[test]
    fn state_parsing() {
        let st = parse_state(["commits: 3", "STATE x", " last_bytes : 16384 "]);
        assert_eq!(state_value(&st, "commits").unwrap(), 3);
        assert_eq!(state_value(&st, "last_bytes").unwrap(), 16384);
        assert!(state_value(&st, "x").is_err());
    }

    #[test]
    fn polling_keeps_the_callers_variables() {
        let p = poll("test -e /x", 3, "0.1");
        assert_eq!(
            p,
            "for _w in $(seq 3); do test -e /x && break; sleep 0.1; done; test -e /x"
        );
    }
}
