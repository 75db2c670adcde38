// SPDX-License-Identifier: GPL-2.0
//! Which accelerator a guest runs under (KVM for the host's own architecture when it works,
//! TCG otherwise) and the machine options that go with it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Whether this process may use KVM (`/dev/kvm` opens read-write).
pub fn kvm_usable() -> bool {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Whether KVM runs `kernel` at a useful speed: on some nested set-ups `/dev/kvm` opens but a
/// guest crawls (on this project's Firecracker machines the kernel's decompressor alone takes
/// minutes). A probe boot must print the kernel's banner within [`KVM_PROBE_TIME`]; under a
/// working KVM it does in about a second. Probed once per process.
pub fn kvm_fast(qemu: &str, arch: &str, kernel: &Path) -> bool {
    static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FAST.get_or_init(|| {
        let fast = probe_kvm(qemu, arch, kernel);
        if !fast {
            println!(
                "vmtest: /dev/kvm opens, but a guest under KVM did not print its banner within \
                 {} s: using TCG (VMTEST_ACCEL=kvm forces KVM)",
                KVM_PROBE_TIME.as_secs()
            );
        }
        fast
    })
}

/// How long the KVM probe waits for the guest kernel's banner.
const KVM_PROBE_TIME: Duration = Duration::from_secs(20);

fn probe_kvm(qemu: &str, arch: &str, kernel: &Path) -> bool {
    let Some(k) = kernel.to_str() else {
        return false;
    };
    let console = if arch == "x86_64" { "ttyS0" } else { "ttyAMA0" };
    let child = Command::new(qemu)
        .args(machine_args(arch, "kvm"))
        .args(["-m", "256", "-smp", "1"])
        .args([
            "-display",
            "none",
            "-nodefaults",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .args(["-kernel", k, "-append"])
        .arg(format!("console={console} panic=-1"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let Some(out) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return false;
    };
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut rd = BufReader::new(out);
        let mut buf = Vec::new();
        while matches!(rd.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            if String::from_utf8_lossy(&buf).contains("Linux version") {
                let _ = tx.send(());
                return;
            }
            buf.clear();
        }
    });
    let fast = rx.recv_timeout(KVM_PROBE_TIME).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    fast
}

/// The host's architecture, named as the guests are (`x86_64`, `arm64`).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        a => a,
    }
}

/// The accelerator for a guest of `arch` on a host of `host`. KVM runs only native guests; for
/// those `forced` (`VMTEST_ACCEL`: `kvm` or `tcg`) decides, or else `kvm_ok` (KVM usable, and
/// fast: [`kvm_fast`]), which is not asked for a foreign guest. A foreign guest runs under
/// TCG whatever `forced` says, with a message when it asked for KVM.
pub fn choose_accel(
    host: &str,
    arch: &str,
    forced: Option<&str>,
    kvm_ok: impl FnOnce() -> bool,
) -> &'static str {
    if host != arch {
        static SAID: std::sync::Once = std::sync::Once::new();
        if forced == Some("kvm") {
            SAID.call_once(|| {
                println!(
                    "vmtest: VMTEST_ACCEL=kvm, but KVM cannot run an {arch} guest on this {host} \
                     host: using TCG"
                )
            });
        }
        return "tcg";
    }
    let kvm = match forced {
        Some("tcg") => false,
        Some("kvm") => true,
        _ => kvm_ok(),
    };
    if kvm {
        "kvm"
    } else {
        "tcg"
    }
}

/// QEMU's accelerator, machine and CPU options for a guest of `arch` under `accel`. Under
/// KVM the guest gets the host's CPU and, on arm64, the host's interrupt controller version
/// (a GICv3 host cannot give a guest the GICv2 that `virt` defaults to). Under TCG an arm64
/// guest gets a Cortex-A57.
pub fn machine_args(arch: &str, accel: &str) -> Vec<&'static str> {
    match (arch, accel) {
        ("x86_64", "kvm") => vec!["-accel", "kvm", "-cpu", "host", "-M", "q35"],
        ("x86_64", _) => vec!["-accel", "tcg", "-M", "q35"],
        (_, "kvm") => vec![
            "-accel",
            "kvm",
            "-M",
            "virt,gic-version=host",
            "-cpu",
            "host",
        ],
        _ => vec!["-accel", "tcg", "-M", "virt", "-cpu", "cortex-a57"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_only_for_native_guests() {
        let never = || -> bool { panic!("KVM probed for a foreign guest") };
        assert_eq!(choose_accel("x86_64", "arm64", None, never), "tcg");
        assert_eq!(choose_accel("x86_64", "arm64", Some("kvm"), never), "tcg");
        assert_eq!(choose_accel("arm64", "x86_64", None, never), "tcg");
        assert_eq!(choose_accel("arm64", "arm64", None, || true), "kvm");
        assert_eq!(choose_accel("arm64", "arm64", None, || false), "tcg");
        assert_eq!(choose_accel("x86_64", "x86_64", None, || true), "kvm");
        // VMTEST_ACCEL decides without a probe.
        let unasked = || -> bool { panic!("KVM probed although forced") };
        assert_eq!(choose_accel("arm64", "arm64", Some("tcg"), unasked), "tcg");
        assert_eq!(choose_accel("arm64", "arm64", Some("kvm"), unasked), "kvm");
        assert_eq!(
            choose_accel("x86_64", "x86_64", Some("kvm"), unasked),
            "kvm"
        );
    }

    /// The option that follows `opt` in `args`.
    fn after<'a>(args: &'a [String], opt: &str) -> Option<&'a str> {
        let i = args.iter().position(|a| a == opt)?;
        args.get(i + 1).map(String::as_str)
    }

    #[test]
    fn machine_options_per_guest_and_accelerator() {
        // Guest, accelerator: -accel, -M and -cpu.
        let want = [
            (
                "arm64",
                "kvm",
                Some("kvm"),
                Some("virt,gic-version=host"),
                Some("host"),
            ),
            (
                "arm64",
                "tcg",
                Some("tcg"),
                Some("virt"),
                Some("cortex-a57"),
            ),
            ("x86_64", "kvm", Some("kvm"), Some("q35"), Some("host")),
            ("x86_64", "tcg", Some("tcg"), Some("q35"), None),
        ];
        for (arch, accel, a, m, cpu) in want {
            let args: Vec<String> = machine_args(arch, accel)
                .into_iter()
                .map(String::from)
                .collect();
            let got = (
                after(&args, "-accel"),
                after(&args, "-M"),
                after(&args, "-cpu"),
            );
            assert_eq!(got, (a, m, cpu), "{arch} under {accel}");
        }
    }
}
