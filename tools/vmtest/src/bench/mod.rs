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
//!
//! Host-side, a VNC viewer ([`vnc`]) keeps QEMU's display side working as it does for a user;
//! `rbbench --sync` stops at the edges of each timed loop so that vmtest reads QEMU's CPU
//! time per thread there ([`host`]). After the timed rounds, one short pass per driver runs
//! with QEMU's MMIO trace events switched on around the same loops, counting the device
//! register accesses per update ([`trace`]).

mod host;
mod plot;
mod report;
mod stats;
mod trace;
mod vnc;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use time::macros::format_description;

use crate::cli::BenchArgs;
use crate::suite::{self, tearing, Driver};
use crate::vm::{indent, Vm, VmConfig};
use crate::Result;
use host::QemuCpu;
use report::{sanity, Setting, Tearing, Torn};
use stats::{parse_line, Sample, Samples, Which};
use trace::{Counts, Tracer};
use workload::{Plan, FULL, SMOKE};

/// At most this many updates per workload (switches, console lines) in the traced pass:
/// tracing slows QEMU, and the counts per update do not need many.
const TRACED: Plan = Plan {
    runs: 1,
    frames: 10,
    switches: 4,
    lines: 50,
    shots: 0,
};

/// What the host measured over one timed loop of the guest.
#[derive(Clone, Debug)]
struct Window {
    name: String,
    cpu: QemuCpu,
    regs: Option<Counts>,
}

/// What one `rbbench` run gave: its samples by workload, and the host's windows.
type Got = (Vec<(String, Sample)>, Vec<Window>);

/// Follows `rbbench --sync`: reads QEMU's CPU time at each `SYNC begin|end NAME` line and
/// switches tracing on and off there, then lets the guest go on.
struct Probe {
    pid: u32,
    tracer: Option<Tracer>,
    open: Option<(String, QemuCpu)>,
    windows: Vec<Window>,
}

/// An edge of a timed loop, as `rbbench --sync` prints it: `SYNC begin|end NAME`.
#[derive(Debug, PartialEq, Eq)]
enum Edge<'a> {
    Begin(&'a str),
    End(&'a str),
}

/// Parses a `SYNC` line; `None` for other lines.
fn parse_sync(l: &str) -> Option<Result<Edge<'_>>> {
    let rest = l.trim().strip_prefix("SYNC ")?;
    Some(match rest.split_once(' ') {
        Some(("begin", n)) if !n.is_empty() => Ok(Edge::Begin(n)),
        Some(("end", n)) if !n.is_empty() => Ok(Edge::End(n)),
        _ => Err(anyhow!("bad SYNC line '{l}'")),
    })
}

impl Probe {
    fn line(&mut self, vm: &mut Vm, l: &str) -> Result<()> {
        let Some(edge) = parse_sync(l) else {
            return Ok(());
        };
        match edge? {
            Edge::Begin(name) => {
                if let Some(t) = self.tracer.as_mut() {
                    t.begin(vm)?;
                }
                self.open = Some((name.to_string(), host::sample(self.pid)?));
            }
            Edge::End(name) => {
                let now = host::sample(self.pid)?;
                let regs = match self.tracer.as_mut() {
                    Some(t) => Some(t.end(vm)?),
                    None => None,
                };
                match self.open.take() {
                    Some((n, before)) if n == name => self.windows.push(Window {
                        name: n,
                        cpu: now.since(&before),
                        regs,
                    }),
                    o => return Err(anyhow!("SYNC end {name} after begin {o:?}")),
                }
            }
        }
        vm.send("go")
    }

    /// Adds the host's figures per update to the samples of one `rbbench` run.
    fn attach(&self, samples: &mut [(String, Sample)]) {
        attach(&self.windows, samples);
    }
}

/// Adds QEMU's CPU time over each workload's window, per update, to its sample.
fn attach(windows: &[Window], samples: &mut [(String, Sample)]) {
    for (name, s) in samples.iter_mut() {
        if let Some(w) = windows.iter().find(|w| &w.name == name) {
            let n = s.ops.max(1) as f64;
            s.qemu_vcpu_ms = Some(w.cpu.vcpu * 1e3 / n);
            s.qemu_display_ms = Some(w.cpu.other * 1e3 / n);
        }
    }
}

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

/// Runs one `rbbench` command (with `--sync`, followed by `probe`) and collects its `BENCH`
/// lines with the host's figures; checks that it ran on the driver named `want_driver` (its
/// `DRIVER` line). Returns the samples and the host's windows.
fn run_bench(
    vm: &mut Vm,
    cmd: &str,
    want_driver: &str,
    timeout: Duration,
    probe: &mut Probe,
) -> Result<Got> {
    probe.windows.clear();
    probe.open = None;
    let cmd = format!("{cmd} --sync");
    let n = vm.start(&cmd)?;
    let (rc, out) = vm.finish_each(n, timeout, |vm, l| probe.line(vm, l))?;
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
    let mut samples = out
        .iter()
        .filter_map(|l| parse_line(l))
        .collect::<Result<Vec<_>>>()?;
    probe.attach(&mut samples);
    Ok((samples, std::mem::take(&mut probe.windows)))
}

/// `rbbench kms` and `rbbench fbcon` on driver `d` (switched to first), `plan`'s worth.
fn run_driver(vm: &mut Vm, dev: &str, d: Which, plan: &Plan, probe: &mut Probe) -> Result<Got> {
    let drv = d.driver();
    // rbbench reports what the driver copied where its debugfs state counts it.
    let counters = if drv.debugfs_counters {
        " --counters"
    } else {
        ""
    };
    let kms_timeout = Duration::from_secs(180 + 40 * u64::from(plan.frames + plan.switches));
    let fbcon_timeout = Duration::from_secs(120 + u64::from(plan.lines));
    switch(vm, dev, drv).map_err(|e| anyhow!("switching to {}: {e}", d.label()))?;
    let (mut kms, mut win) = run_bench(
        vm,
        &format!("rbbench kms {} {}{counters}", plan.frames, plan.switches),
        drv.drm_name,
        kms_timeout,
        probe,
    )?;
    // The client is gone: the fbdev emulation takes the display back.
    suite::wait_guest(vm, suite::FBCON_BOUND)?;
    let (fbcon, w) = run_bench(
        vm,
        &format!("rbbench fbcon {}{counters}", plan.lines),
        drv.pci_driver,
        fbcon_timeout,
        probe,
    )?;
    kms.extend(fbcon);
    win.extend(w);
    Ok((kms, win))
}

/// What one bench boot measured.
struct Measured {
    samples: Samples,
    set: Setting,
    tearing: Tearing,
    /// What the kernel log says is wrong.
    problems: Vec<String>,
}

/// Boots the guest, runs every round, the traced pass and the tearing test, and collects
/// what they measured.
fn measure(cfg: &VmConfig, plan: &Plan, viewer: bool) -> Result<Measured> {
    let mut cfg = cfg.clone();
    std::fs::create_dir_all(&cfg.workdir).map_err(|e| anyhow!("{}: {e}", cfg.workdir.display()))?;
    let vnc_sock = cfg.workdir.join("vnc.sock");
    let trace_log = cfg.workdir.join("trace.log");
    let _ = std::fs::remove_file(&vnc_sock);
    let _ = std::fs::remove_file(&trace_log);
    if viewer {
        cfg.extra
            .extend(["-vnc".to_string(), format!("unix:{}", vnc_sock.display())]);
    }
    cfg.extra.extend(Tracer::args(&trace_log));
    let mut vm = Vm::boot(&cfg, Duration::from_secs(240))?;
    let viewer = if viewer {
        Some(vnc::Viewer::start(&vnc_sock)?)
    } else {
        None
    };
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
    let mut guest = if cfg.arch == "x86_64" {
        format!("q35, 2 vCPUs, 1 GiB; -device {}", cfg.display)
    } else {
        format!("virt, cortex-a57, 2 vCPUs, 1 GiB; -device {}", cfg.display)
    };
    // E.g. rbochs.double_buffer=0.
    if !cfg.append.is_empty() {
        guest.push_str(&format!("; kernel command line + `{}`", cfg.append));
    }
    let (date, stamp) = now();
    let mut set = Setting {
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
        viewer: String::new(),
    };

    let mut samples = Samples::default();
    let mut probe = Probe {
        pid: vm.pid(),
        tracer: None,
        open: None,
        windows: Vec::new(),
    };
    for round in 0..plan.runs {
        let order = if round % 2 == 0 {
            [Which::R, Which::C]
        } else {
            [Which::C, Which::R]
        };
        for d in order {
            println!("bench: run {} of {} on {}", round + 1, plan.runs, d.label());
            let (got, _) = run_driver(&mut vm, &dev, d, plan, &mut probe)?;
            for (name, s) in got {
                samples.add(d, name, s);
            }
        }
    }
    // The register accesses: a short pass per driver with QEMU's MMIO tracing on around the
    // timed loops only (its timings are not used).
    let traced = Plan {
        runs: 1,
        frames: plan.frames.min(TRACED.frames),
        switches: plan.switches.min(TRACED.switches),
        lines: plan.lines.min(TRACED.lines),
        shots: 0,
    };
    probe.tracer = Some(Tracer::new(&trace_log));
    for d in [Which::R, Which::C] {
        println!("bench: register accesses on {} (traced)", d.label());
        let (got, windows) = run_driver(&mut vm, &dev, d, &traced, &mut probe)?;
        for (name, s) in got {
            if let Some(c) = windows
                .iter()
                .find(|w| w.name == name)
                .and_then(|w| w.regs.as_ref())
            {
                samples.add_regs(d, name, c.per(s.ops));
            }
        }
    }
    // The torn fraction per driver (the tearing suite's measurement), on the drivers as
    // booted: rbochs is built in, so its buffering is the kernel command line's
    // (`--append rbochs.double_buffer=0` for single buffering).
    let mut torn = Vec::new();
    for driver in [&suite::RBOCHS, &suite::C_BOCHS] {
        let target = tearing::Target {
            name: driver.suite_name,
            driver,
            double_buffer: None,
        };
        let st = tearing::measure(
            &mut vm,
            &dev,
            &target,
            plan.shots,
            &cfg.workdir.join("tearing"),
        )?;
        let buffering = st.state_after.iter().find(|(k, _)| k == "buffering");
        torn.push(Torn {
            driver: match buffering {
                Some((_, b)) => format!("rbochs {b}-buffered"),
                None => "C bochs".into(),
            },
            screenshots: st.shots as u32,
            torn: st.torn as u32,
        });
    }
    let tearing: Tearing = Some(torn);
    // A problem in the kernel log fails the run, but the figures are still reported.
    let log = suite::kernel_log_problems(&mut vm)?;
    let problems = if log.is_empty() {
        Vec::new()
    } else {
        vec![format!("kernel log reports problems:\n{}", indent(&log))]
    };
    set.viewer = match viewer {
        Some(v) => {
            let seen = v
                .stop()
                .map_err(|e| anyhow!("the VNC viewer stopped: {e}"))?;
            format!(
                "vmtest's VNC viewer (raw pixels over a Unix socket): {} updates, {:.0} MB",
                seen.updates,
                seen.bytes as f64 / 1e6
            )
        }
        None => "none (--no-viewer): QEMU's display side never read video memory".into(),
    };
    vm.shutdown()?;
    Ok(Measured {
        samples,
        set,
        tearing,
        problems,
    })
}

/// Writes the markdown report and the plot into `dir` and prints the report; returns what is
/// wrong with the numbers (see [`sanity`]) or the plot.
fn write_report(m: &Measured, plan: &Plan, dir: &Path) -> Result<Vec<String>> {
    let (s, set) = (&m.samples, &m.set);
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let stamp = &set.stamp;
    let png_name = format!("{stamp}.png");
    let png = dir.join(&png_name);
    let title = format!(
        "rbochs vs C bochs, {} ({}, {} host CPUs)",
        set.date, set.accel, set.host_cpus
    );
    let plotted = plot::plot(s, &title, &png);
    let md = report::report(
        s,
        set,
        plotted.is_ok().then_some(png_name.as_str()),
        &m.tearing,
    );
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
        shots: base.shots,
    };
    let cfg = a.vm.config(DEVICE);
    let dir = match &a.results_dir {
        Some(d) => d.clone(),
        None if smoke => cfg.workdir.clone(),
        None => PathBuf::from(RESULTS_DIR),
    };
    // The name of the one result line (`make check` runs the smoke).
    let test = if smoke { "bench.smoke" } else { "bench.run" };
    let line = match measure(&cfg, &plan, !a.no_viewer)
        .and_then(|m| write_report(&m, &plan, &dir).map(|bad| [m.problems, bad].concat()))
    {
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
    fn host_cpu_per_update() {
        let w = |name: &str, vcpu, other| Window {
            name: name.into(),
            cpu: QemuCpu { vcpu, other },
            regs: None,
        };
        let s = |ops| Sample {
            ops,
            ..Sample::default()
        };
        let mut got = vec![
            ("damage-1".to_string(), s(50)),
            ("fbcon".to_string(), s(200)),
            ("modeset-a-b".to_string(), s(4)),
        ];
        attach(&[w("fbcon", 0.5, 0.1), w("damage-1", 1.0, 0.25)], &mut got);
        let ms = |i: usize| (got[i].1.qemu_vcpu_ms, got[i].1.qemu_display_ms);
        assert_eq!(ms(0), (Some(20.0), Some(5.0)));
        assert_eq!(ms(1), (Some(2.5), Some(0.5)));
        // No window, no figure.
        assert_eq!(ms(2), (None, None));
    }

    #[test]
    fn sync_lines() {
        assert_eq!(
            parse_sync("SYNC begin damage-8\r").map(|r| r.ok()),
            Some(Some(Edge::Begin("damage-8")))
        );
        assert_eq!(
            parse_sync("  SYNC end fbcon").map(|r| r.ok()),
            Some(Some(Edge::End("fbcon")))
        );
        assert!(parse_sync("BENCH fbcon ops=1").is_none());
        for bad in ["SYNC middle x", "SYNC begin ", "SYNC end"] {
            assert!(matches!(parse_sync(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn report_stamps() {
        let t = time::macros::datetime!(2000-02-29 07:05 UTC);
        assert_eq!(
            stamps(t),
            ("2000-02-29 07:05 UTC".into(), "2000-02-29-0705".into())
        );
    }
}
