// SPDX-License-Identifier: GPL-2.0
//! `vmtest bench`: rbochs against Linux's C bochs driver and against a plain memory copy,
//! side by side in one guest boot.
//!
//! The guest boots with rbochs bound (built in). Each round runs the in-guest `rbbench` on
//! both drivers, switching between them through sysfs (unbind, then bind or `modprobe bochs`),
//! in the order rbochs, C bochs, C bochs, rbochs, ... so that slow drift on a shared machine
//! falls on both alike. Each round is one run of every workload per driver: `rbbench kms`
//! (full frames, small damage, DIRTYFB, modesets, with the RAM-to-RAM copy of the same bytes
//! measured in the same pass) and then `rbbench fbcon` with no DRM client open.
//!
//! Every figure is the median over the runs with their minimum and maximum; ratios compare
//! medians from the same boot. The report is markdown (also printed) and a PNG of the ratios.

mod plot;
mod report;
mod stats;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use time::macros::format_description;

use crate::cli::BenchArgs;
use crate::suite::{self, Driver};
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;
use report::{sanity, Setting};
use stats::{parse_line, Sample, Samples, Which};
use workload::{Plan, FULL, SMOKE};

/// The display device: std-VGA with a 1920x1080 preferred mode, so fbcon runs at that size.
const DEVICE: &str = "VGA,xres=1920,yres=1080";

/// Modes the workloads need from the connector.
const MODES: [(u32, u32); 3] = [(1024, 768), (1280, 1024), (1920, 1080)];

/// Where the report goes unless `--results-dir` says otherwise.
const RESULTS_DIR: &str = "bench/results";

/// The time now as `YYYY-MM-DD HH:MM UTC` and as a file-name stamp.
fn now() -> (String, String) {
    stamps(time::OffsetDateTime::now_utc())
}

/// [`now`] for the time `t`.
fn stamps(t: time::OffsetDateTime) -> (String, String) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let long = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let short = format_description!("[year]-[month]-[day]-[hour][minute]");
    (
        t.format(long).unwrap_or_default(),
        t.format(short).unwrap_or_default(),
    )
}

/// The host's CPU model, from /proc/cpuinfo.
fn host_cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown model".into())
}

/// Binds the display to `to`, whatever holds it now; waits for the card and fbcon.
fn switch(vm: &mut Vm, dev: &str, to: &Driver) -> Result<()> {
    bind(vm, dev, to)?;
    suite::wait_guest(vm, suite::FBCON_BOUND)
}

/// Binds the display to `to`, whatever holds it now; waits for the card. (IGT's KMS tests
/// leave fbcon unbound, so the IGT timing samples cannot wait for it.)
pub fn bind(vm: &mut Vm, dev: &str, to: &Driver) -> Result<()> {
    let cur = suite::bound_driver(vm, dev)?;
    if cur != to.pci_driver {
        if !cur.is_empty() {
            vm.ok(&format!("echo {dev} > /sys/bus/pci/drivers/{cur}/unbind"))?;
        }
        let d = format!("/sys/bus/pci/drivers/{}", to.pci_driver);
        vm.ok(&format!(
            "if [ -d {d} ]; then echo {dev} > {d}/bind; else modprobe {}; fi",
            to.module
        ))?;
    }
    suite::wait_guest(vm, "ls /dev/dri/card* > /dev/null 2>&1")?;
    let now = suite::bound_driver(vm, dev)?;
    if now != to.pci_driver {
        return Err(anyhow!(
            "the display is bound to {now:?}, want {}",
            to.pci_driver
        ));
    }
    Ok(())
}

/// Runs one `rbbench` command and collects its `BENCH` lines; checks that it ran on the
/// driver named `want_driver` (its `DRIVER` line).
fn run_bench(
    vm: &mut Vm,
    cmd: &str,
    want_driver: &str,
    timeout: Duration,
) -> Result<Vec<(String, Sample)>> {
    let (rc, out) = vm.run(cmd, timeout)?;
    if rc != 0 {
        return Err(anyhow!("'{cmd}' exited {rc}:\n{}", indent(&out)));
    }
    let drv = out
        .iter()
        .find_map(|l| l.trim().strip_prefix("DRIVER "))
        .map(str::to_string);
    if drv.as_deref() != Some(want_driver) {
        return Err(anyhow!(
            "'{cmd}' ran on driver {drv:?}, want {want_driver}:\n{}",
            indent(&out)
        ));
    }
    out.iter().filter_map(|l| parse_line(l)).collect()
}

/// Boots the guest, runs every round and collects the samples and the setting.
fn measure(cfg: &VmConfig, plan: &Plan) -> Result<(Samples, Setting)> {
    let mut vm = Vm::boot(cfg, Duration::from_secs(240))?;
    if vm
        .run("command -v rbbench > /dev/null", Duration::from_secs(60))?
        .0
        != 0
    {
        return Err(anyhow!(
            "rbbench is not in the initramfs: rebuild it (make initramfs-arm64-run)"
        ));
    }
    let dev = suite::pci_name(&mut vm)?;
    let info = suite::parse_info(&vm.ok("rbguest info")?)?;
    if let Some(m) = MODES.iter().find(|m| !info.modes.contains(m)) {
        return Err(anyhow!(
            "the connector has no {}x{} mode; modes: {:?}",
            m.0,
            m.1,
            info.modes
        ));
    }
    let kernel = vm.ok("uname -r; uname -v")?.join(" ");
    let kvm = vm.qmp_execute("query-kvm", serde_json::json!({}))?;
    let accel = if kvm.get("enabled").and_then(|v| v.as_bool()) == Some(true) {
        "KVM"
    } else {
        "TCG"
    };
    let ver = vm.qmp_execute("query-version", serde_json::json!({}))?;
    let q = &ver["qemu"];
    let qemu = format!("{} {}.{}.{}", cfg.qemu, q["major"], q["minor"], q["micro"]);
    // As vm.rs starts it.
    let guest = if cfg.arch == "x86_64" {
        format!("q35, 2 vCPUs, 1 GiB; -device {}", cfg.display)
    } else {
        format!("virt, cortex-a57, 2 vCPUs, 1 GiB; -device {}", cfg.display)
    };
    let (date, stamp) = now();
    let set = Setting {
        date,
        stamp: format!("{stamp}-{}", accel.to_lowercase()),
        kernel: format!("{kernel} ({})", cfg.kernel.display()),
        accel: accel.into(),
        qemu,
        host_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        host_cpu: host_cpu(),
        guest,
        plan: format!(
            "{} per driver; {} updates per workload and run, {} modesets, {} console lines",
            plan.runs, plan.frames, plan.switches, plan.lines
        ),
    };

    let mut samples = Samples::default();
    let kms_timeout = Duration::from_secs(180 + 40 * u64::from(plan.frames + plan.switches));
    let fbcon_timeout = Duration::from_secs(120 + u64::from(plan.lines));
    for round in 0..plan.runs {
        let order = if round % 2 == 0 {
            [Which::R, Which::C]
        } else {
            [Which::C, Which::R]
        };
        for d in order {
            let drv = d.driver();
            // rbbench reports what the driver copied where its debugfs state counts it.
            let counters = if drv.debugfs_counters {
                " --counters"
            } else {
                ""
            };
            switch(&mut vm, &dev, drv).map_err(|e| anyhow!("switching to {}: {e}", d.label()))?;
            println!("bench: run {} of {} on {}", round + 1, plan.runs, d.label());
            let kms = run_bench(
                &mut vm,
                &format!("rbbench kms {} {}{counters}", plan.frames, plan.switches),
                drv.drm_name,
                kms_timeout,
            )?;
            // The client is gone: the fbdev emulation takes the display back.
            suite::wait_guest(&mut vm, suite::FBCON_BOUND)?;
            let fbcon = run_bench(
                &mut vm,
                &format!("rbbench fbcon {}{counters}", plan.lines),
                drv.pci_driver,
                fbcon_timeout,
            )?;
            for (name, s) in kms.into_iter().chain(fbcon) {
                samples.add(d, name, s);
            }
        }
    }
    let bad = suite::kernel_log_problems(&mut vm)?;
    if !bad.is_empty() {
        return Err(anyhow!("kernel log reports problems:\n{}", indent(&bad)));
    }
    vm.shutdown()?;
    Ok((samples, set))
}

/// Writes the markdown report and the plot into `dir` and prints the report; returns what is
/// wrong with the numbers (see [`sanity`]) or the plot.
fn write_report(s: &Samples, set: &Setting, plan: &Plan, dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let stamp = &set.stamp;
    let png_name = format!("{stamp}.png");
    let png = dir.join(&png_name);
    let title = format!(
        "rbochs vs C bochs, {} ({}, {} host CPUs)",
        set.date, set.accel, set.host_cpus
    );
    let plotted = plot::plot(s, &title, &png);
    let md = report::report(s, set, plotted.is_ok().then_some(png_name.as_str()));
    let md_path = dir.join(format!("{stamp}.md"));
    std::fs::write(&md_path, &md).map_err(|e| anyhow!("{}: {e}", md_path.display()))?;
    println!("{md}");
    println!("bench: report in {}", md_path.display());
    let mut bad = sanity(s, plan);
    match plotted {
        Ok(()) => println!("bench: plot in {}", png.display()),
        Err(e) => bad.push(format!("no plot: {e}")),
    }
    Ok(bad)
}

/// `vmtest bench`: returns whether every workload gave sane numbers.
pub fn bench(a: &BenchArgs) -> Result<bool> {
    let smoke = a.smoke;
    let base = if smoke { SMOKE } else { FULL };
    let plan = Plan {
        runs: a.runs.unwrap_or(base.runs),
        frames: a.frames.unwrap_or(base.frames),
        switches: a.switches.unwrap_or(base.switches),
        lines: a.lines.unwrap_or(base.lines),
    };
    let cfg = a.vm.config(DEVICE);
    let dir = match &a.results_dir {
        Some(d) => d.clone(),
        None if smoke => cfg.workdir.clone(),
        None => PathBuf::from(RESULTS_DIR),
    };
    // The name of the one result line (`make check` runs the smoke).
    let test = if smoke { "bench.smoke" } else { "bench.run" };
    let line = match measure(&cfg, &plan).and_then(|(s, set)| write_report(&s, &set, &plan, &dir)) {
        Err(e) => format!("FAIL {test}: {e}"),
        Ok(bad) if bad.is_empty() => format!("PASS {test}"),
        Ok(bad) => format!("FAIL {test}: {}", bad.join("; ")),
    };
    let ok = line.starts_with("PASS");
    println!("{line}");
    if let Some(res) = &a.results {
        std::fs::write(res, format!("{line}\n")).map_err(|e| anyhow!("{}: {e}", res.display()))?;
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_stamps() {
        let t = time::macros::datetime!(2000-02-29 07:05 UTC);
        assert_eq!(
            stamps(t),
            ("2000-02-29 07:05 UTC".into(), "2000-02-29-0705".into())
        );
    }
}
