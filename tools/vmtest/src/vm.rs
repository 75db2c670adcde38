// SPDX-License-Identifier: GPL-2.0
//! A QEMU guest driven over its serial line, with QMP for screenshots.
//!
//! The guest's init runs a shell on the serial console with echo off. Each
//! command is sent as one line followed by an `echo` of a numbered marker
//! carrying its exit status, so the host waits for that marker (with a
//! timeout) instead of sleeping.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::json;

use crate::accel::{choose_accel, host_arch, kvm_fast, kvm_usable, machine_args};
use crate::qmp::Qmp;
use crate::Result;

/// Printed by the guest's init once it is ready for commands.
pub const BOOT_MARKER: &str = "@@RBOCHS-BOOTED";

/// How a guest is started.
#[derive(Clone, Debug)]
pub struct VmConfig {
    pub qemu: String,
    pub arch: String,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The display device with its options, as given to `-device`; several separated by `;`.
    pub display: String,
    /// Extra kernel command line.
    pub append: String,
    /// QEMU `-display` backend (`none` unless the user asks for a window).
    pub backend: String,
    /// Working directory for the QMP socket, logs and screenshots.
    pub workdir: PathBuf,
    /// Copy the console to our stdout as it arrives.
    pub echo: bool,
    /// Multiplies every timeout (slow machines, debug kernels).
    pub time_scale: f64,
}

impl VmConfig {
    /// The accelerator the guest runs on: KVM for a guest of the host's own architecture when
    /// `/dev/kvm` is usable and a probe boot shows it runs guests at speed ([`kvm_fast`]), TCG
    /// otherwise. `VMTEST_ACCEL=tcg` or `kvm` skips the probe (see [`choose_accel`]).
    pub fn accel(&self) -> &'static str {
        let forced = std::env::var("VMTEST_ACCEL").ok();
        choose_accel(host_arch(), &self.arch, forced.as_deref(), || {
            kvm_usable() && kvm_fast(&self.qemu, &self.arch, &self.kernel)
        })
    }

    fn args(&self, qmp: &Path) -> Vec<String> {
        let mut a: Vec<String> = machine_args(&self.arch, self.accel())
            .into_iter()
            .map(String::from)
            .collect();
        let mut push = |s: &str| a.push(s.to_string());
        let console = if self.arch == "x86_64" {
            "ttyS0"
        } else {
            "ttyAMA0"
        };
        for s in [
            "-smp",
            "2",
            "-m",
            "1G",
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
        ] {
            push(s);
        }
        push("-display");
        push(&self.backend);
        for s in ["-serial", "stdio", "-monitor", "none", "-qmp"] {
            push(s);
        }
        push(&format!("unix:{},server=on,wait=off", qmp.display()));
        push("-kernel");
        push(&self.kernel.display().to_string());
        push("-initrd");
        push(&self.initrd.display().to_string());
        push("-append");
        push(
            format!(
                "console=tty0 console={console} rdinit=/init panic=-1 {}",
                self.append
            )
            .trim(),
        );
        // `;` separates devices: a display behind a PCIe root port is two.
        for dev in self.display.split(';') {
            push("-device");
            push(dev);
        }
        a
    }
}

/// A running guest.
pub struct Vm {
    cfg: VmConfig,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    tail: VecDeque<String>,
    qmp: Option<Qmp>,
    qmp_path: PathBuf,
    seq: u32,
}

const TAIL_LINES: usize = 40;

impl Vm {
    /// Starts QEMU and waits for the guest's init to report in.
    pub fn boot(cfg: &VmConfig, boot_timeout: Duration) -> Result<Vm> {
        for (what, p) in [("kernel image", &cfg.kernel), ("initramfs", &cfg.initrd)] {
            if !p.exists() {
                return Err(anyhow!(
                    "{what} {} not found (run the build first: make kernel)",
                    p.display()
                ));
            }
        }
        std::fs::create_dir_all(&cfg.workdir)
            .map_err(|e| anyhow!("{}: {e}", cfg.workdir.display()))?;
        let qmp_path = cfg.workdir.join("qmp.sock");
        let _ = std::fs::remove_file(&qmp_path);
        let log_path = cfg.workdir.join("console.log");
        let mut log =
            File::create(&log_path).map_err(|e| anyhow!("{}: {e}", log_path.display()))?;
        let args = cfg.args(&qmp_path);
        println!("vmtest: {} under {}", cfg.qemu, cfg.accel().to_uppercase());
        writeln!(log, "# {} {}", cfg.qemu, args.join(" ")).ok();
        let mut child = Command::new(&cfg.qemu)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                anyhow!(
                    "cannot start QEMU ({}): {e}; install it with 'make setup'",
                    cfg.qemu
                )
            })?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("QEMU stdin missing"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("QEMU stdout missing"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("QEMU stderr missing"))?;
        let (tx, rx) = mpsc::channel();
        let echo = cfg.echo;
        let errtx = tx.clone();
        thread::spawn(move || {
            let mut rd = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match rd.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf)
                            .trim_end_matches(['\r', '\n'])
                            .to_string();
                        writeln!(log, "{line}").ok();
                        if echo {
                            println!("{line}");
                        }
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                if errtx.send(format!("qemu: {line}")).is_err() {
                    break;
                }
            }
        });
        let mut vm = Vm {
            cfg: cfg.clone(),
            child,
            stdin,
            lines: rx,
            tail: VecDeque::new(),
            qmp: None,
            qmp_path,
            seq: 0,
        };
        vm.wait_for(|l| l.contains(BOOT_MARKER), boot_timeout)
            .map_err(|e| anyhow!("guest did not boot: {e}"))?;
        // Swallow the shell's greeting so it is not taken as command output.
        vm.run("true", boot_timeout)?;
        Ok(vm)
    }

    fn scaled(&self, t: Duration) -> Duration {
        t.mul_f64(self.cfg.time_scale)
    }

    /// The last lines of the console, for error messages.
    pub fn tail(&self) -> String {
        let mut s = String::new();
        for l in &self.tail {
            s.push_str("    | ");
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    fn next_line(&mut self, deadline: Instant) -> Result<String> {
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        match self.lines.recv_timeout(left) {
            Ok(l) => {
                if self.tail.len() == TAIL_LINES {
                    self.tail.pop_front();
                }
                self.tail.push_back(l.clone());
                Ok(l)
            }
            Err(RecvTimeoutError::Timeout) => {
                Err(anyhow!("timed out; console tail:\n{}", self.tail()))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(anyhow!(
                    "QEMU exited ({status}); console tail:\n{}",
                    self.tail()
                ))
            }
        }
    }

    /// Waits for a console line matching `pred`, returning the lines seen
    /// before it.
    pub fn wait_for(
        &mut self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + self.scaled(timeout);
        let mut seen = Vec::new();
        loop {
            let l = self.next_line(deadline)?;
            if pred(&l) {
                seen.push(l);
                return Ok(seen);
            }
            seen.push(l);
        }
    }

    /// Sends a line to the guest shell without waiting for anything.
    pub fn send(&mut self, line: &str) -> Result<()> {
        writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| anyhow!("write to guest console: {e}"))
    }

    /// Starts `cmd` in the guest shell; finish it with [`Vm::finish`].
    pub fn start(&mut self, cmd: &str) -> Result<u32> {
        self.seq += 1;
        let n = self.seq;
        self.send(&format!("{{ {cmd}\n}} 2>&1; echo \"@@RC:{n}:$?@@\""))?;
        Ok(n)
    }

    /// Waits for command `n` to end; returns its status and output lines.
    pub fn finish(&mut self, n: u32, timeout: Duration) -> Result<(i32, Vec<String>)> {
        let tag = format!("@@RC:{n}:");
        let mut out = self.wait_for(|l| l.contains(&tag), timeout)?;
        let last = out.pop().unwrap_or_default();
        let (before, rest) = last.split_once(&tag).unwrap_or_default();
        if !before.is_empty() {
            out.push(before.to_string());
        }
        // The kernel may print on the same console line right after the marker.
        let (status, after) = rest.split_once("@@").unwrap_or((rest, ""));
        let rc = status
            .parse()
            .map_err(|_| anyhow!("bad status marker '{last}'"))?;
        if !after.is_empty() {
            out.push(after.to_string());
        }
        Ok((rc, out))
    }

    /// Runs `cmd` in the guest and returns its status and output.
    pub fn run(&mut self, cmd: &str, timeout: Duration) -> Result<(i32, Vec<String>)> {
        let n = self.start(cmd)?;
        self.finish(n, timeout)
    }

    /// Runs `cmd` and fails unless it exits 0; returns its output.
    pub fn ok(&mut self, cmd: &str) -> Result<Vec<String>> {
        let (rc, out) = self.run(cmd, Duration::from_secs(120))?;
        if rc != 0 {
            return Err(anyhow!("guest: '{cmd}' exited {rc}:\n{}", indent(&out)));
        }
        Ok(out)
    }

    fn qmp(&mut self) -> Result<&mut Qmp> {
        if self.qmp.is_none() {
            self.qmp = Some(Qmp::connect(&self.qmp_path)?);
        }
        Ok(self.qmp.as_mut().expect("just connected"))
    }

    /// Runs a QMP command (e.g. `device_del`) and returns its result.
    pub fn qmp_execute(&mut self, cmd: &str, args: serde_json::Value) -> Result<serde_json::Value> {
        self.qmp()?.execute(cmd, args)
    }

    /// Saves what the emulated display shows as a PNG.
    pub fn screendump(&mut self, path: &Path) -> Result<()> {
        self.screendump_as(path, "png")
    }

    /// Saves what the emulated display shows in `format`: `png`, or `ppm` (uncompressed,
    /// much quicker for QEMU to write).
    pub fn screendump_as(&mut self, path: &Path, format: &str) -> Result<()> {
        let _ = std::fs::remove_file(path);
        let p = path.display().to_string();
        self.qmp()?
            .execute("screendump", json!({ "filename": p, "format": format }))?;
        if !path.exists() {
            return Err(anyhow!("QMP screendump did not write {p}"));
        }
        Ok(())
    }

    /// Stops the guest's CPUs (QMP `stop`); returns once none runs.
    pub fn pause(&mut self) -> Result<()> {
        self.qmp()?.execute("stop", json!({})).map(|_| ())
    }

    /// Lets the guest's CPUs run again after [`Vm::pause`].
    pub fn resume(&mut self) -> Result<()> {
        self.qmp()?.execute("cont", json!({})).map(|_| ())
    }

    /// Stops the guest.
    pub fn shutdown(mut self) -> Result<()> {
        let _ = self.qmp().and_then(|q| q.execute("quit", json!({})));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn indent(lines: &[String]) -> String {
    lines.iter().map(|l| format!("    | {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(arch: &str) -> VmConfig {
        VmConfig {
            qemu: format!("qemu-system-{arch}"),
            arch: arch.into(),
            kernel: "/k".into(),
            initrd: "/i".into(),
            display: "VGA".into(),
            append: String::new(),
            backend: "none".into(),
            workdir: "/w".into(),
            echo: false,
            time_scale: 1.0,
        }
    }

    /// The option that follows `opt` in `args`.
    fn after<'a>(args: &'a [String], opt: &str) -> Option<&'a str> {
        let i = args.iter().position(|a| a == opt)?;
        args.get(i + 1).map(String::as_str)
    }

    #[test]
    fn whole_command_line() {
        // Forced, so that the test does not depend on this host's /dev/kvm.
        std::env::set_var("VMTEST_ACCEL", "tcg");
        let a = cfg("arm64").args(Path::new("/w/qmp.sock"));
        assert_eq!(
            &a[..6],
            ["-accel", "tcg", "-M", "virt", "-cpu", "cortex-a57"]
        );
        assert_eq!(
            after(&a, "-append"),
            Some("console=tty0 console=ttyAMA0 rdinit=/init panic=-1")
        );
        assert_eq!(
            after(&a, "-qmp"),
            Some("unix:/w/qmp.sock,server=on,wait=off")
        );
        assert_eq!(after(&a, "-device"), Some("VGA"));
        let x = cfg("x86_64").args(Path::new("/w/qmp.sock"));
        assert_eq!(
            after(&x, "-append"),
            Some("console=tty0 console=ttyS0 rdinit=/init panic=-1")
        );
    }
}
