// SPDX-License-Identifier: GPL-2.0
//! Both drivers built as modules, one device: which one binds.
//!
//! rbochs and C bochs claim the same PCI ids, so a kernel that builds both as modules (what a
//! distribution ships) has two modules for the device's modalias. The project's choice is a
//! modprobe.d file, `configs/modprobe.d/rbochs.conf` (`blacklist bochs`): blacklisting takes a
//! module out of alias lookups only, so udev's `modprobe <modalias>` loads rbochs while
//! `modprobe bochs` by name still works. The suite loads the device's modules the way udev
//! does, with the shipped file, with its inverse (`blacklist rbochs`) and with none, and checks
//! which driver binds and which modules were loaded.

use std::time::Duration;

use anyhow::anyhow;

use super::report::{check_kernel_log, Report};
use super::{
    guest::bound_driver, guest::pci_name, guest::wait_guest, Driver, C_BOCHS, DRIVERS, RBOCHS,
};
use crate::vm::{Vm, VmConfig};
use crate::Result;

/// The modprobe.d file the project ships, as tested.
pub const SHIPPED_CONF: &str = include_str!("../../../../configs/modprobe.d/rbochs.conf");

/// Loads the modules of the device's modalias under `conf` (the contents of
/// /etc/modprobe.d/rbochs.conf, `None`: no such file) and returns the driver bound to the
/// device and the modules loaded; then unloads them.
fn load_by_alias(vm: &mut Vm, dev: &str, conf: Option<&str>) -> Result<(String, Vec<String>)> {
    vm.ok("mkdir -p /etc/modprobe.d; rm -f /etc/modprobe.d/rbochs.conf")?;
    if let Some(c) = conf {
        for l in c.lines() {
            vm.ok(&format!(
                "echo '{}' >> /etc/modprobe.d/rbochs.conf",
                l.replace('\'', "")
            ))?;
        }
    }
    vm.ok(&format!(
        "modprobe \"$(cat /sys/bus/pci/devices/{dev}/modalias)\""
    ))?;
    wait_guest(vm, "ls /dev/dri/card* > /dev/null 2>&1")?;
    let bound = bound_driver(vm, dev)?;
    let mut loaded = Vec::new();
    for d in DRIVERS {
        if vm
            .run(
                &format!("test -d /sys/module/{}", d.module),
                Duration::from_secs(30),
            )?
            .0
            == 0
        {
            loaded.push(d.module.to_string());
        }
    }
    for m in &loaded {
        vm.ok(&format!("rmmod {m}"))?;
    }
    Ok((bound, loaded))
}

/// Passes when `drv`, and only it, was loaded and bound.
fn only(got: (String, Vec<String>), drv: &Driver) -> Result<()> {
    let (bound, loaded) = got;
    if bound != drv.pci_driver || loaded != [drv.module] {
        return Err(anyhow!(
            "bound to '{bound}' with modules {loaded:?} loaded, want {} alone",
            drv.module
        ));
    }
    Ok(())
}

/// The suite on `device` (`VGA` or `bochs-display`).
pub fn coexist_suite(cfg: &VmConfig, device: &str, rep: &mut Report) -> Result<()> {
    let Some(mut vm) = super::boot_suite(cfg, &format!("coexist-{device}"), device.into(), rep)
    else {
        return Ok(());
    };
    let dev = match pci_name(&mut vm) {
        Ok(d) => d,
        Err(e) => {
            rep.record("device", Err(e));
            return vm.shutdown();
        }
    };
    rep.record(
        "shipped-conf-binds-rbochs",
        load_by_alias(&mut vm, &dev, Some(SHIPPED_CONF)).and_then(|g| only(g, &RBOCHS)),
    );
    rep.record(
        "inverse-conf-binds-bochs",
        load_by_alias(&mut vm, &dev, Some("blacklist rbochs")).and_then(|g| only(g, &C_BOCHS)),
    );
    // Without a choice both modules load and one binds; which is the alias lookup's order,
    // not a promise: the suite checks that exactly one of the two drives the device.
    rep.record(
        "no-conf-one-binds",
        load_by_alias(&mut vm, &dev, None).and_then(|(bound, loaded)| {
            println!(
                "coexist: {device}: without a modprobe.d file, {bound} binds ({loaded:?} loaded)"
            );
            if [RBOCHS.pci_driver, C_BOCHS.pci_driver].contains(&bound.as_str()) {
                Ok(())
            } else {
                Err(anyhow!("bound to '{bound}' with {loaded:?} loaded"))
            }
        }),
    );
    rep.record("kernel-log", check_kernel_log(&mut vm));
    vm.shutdown()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_conf_blacklists_c_bochs() {
        let rules: Vec<&str> = SHIPPED_CONF
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        assert_eq!(rules, ["blacklist bochs"]);
    }
}
