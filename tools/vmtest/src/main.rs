// SPDX-License-Identifier: GPL-2.0
//! Host side of the rbochs tests.
//!
//! The subcommands and their flags are in [`cli`]; `vmtest help` lists them.

mod accel;
mod bench;
mod cli;
mod clients;
mod cpio;
mod igt;
mod image;
mod misuse;
mod ptdump;
mod qmp;
mod suite;
mod vm;

#[path = "../../common/pattern.rs"]
mod pattern;
#[path = "../../common/protocol.rs"]
mod protocol;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use clap::Parser;
use vm::Vm;

use cli::{CheckArgs, Cli, ClientsArgs, Command, IgtArgs, InitramfsArgs, MisuseBuildArgs, RunArgs};

pub use anyhow::Result;

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| anyhow!("{}: {e}", p.display()))
}

fn initramfs(a: &InitramfsArgs) -> Result<()> {
    let mut c = cpio::Cpio::default();
    for d in [
        "bin", "sbin", "dev", "proc", "sys", "tmp", "root", "etc", "lib",
    ] {
        c.dir(d)?;
    }
    c.file("init", 0o755, &read(&a.init)?)?;
    c.file("bin/busybox", 0o755, &read(&a.busybox)?)?;
    c.file("bin/rbguest", 0o755, &read(&a.guest)?)?;
    for p in &a.extra {
        let name = p
            .file_name()
            .ok_or_else(|| anyhow!("--extra {}: not a file name", p.display()))?;
        c.file(&format!("bin/{}", name.to_string_lossy()), 0o755, &read(p)?)?;
    }
    if let Some(m) = &a.modules {
        add_tree(&mut c, m, "lib/modules")?;
    }
    let out = &a.out;
    let mut f = std::fs::File::create(out).map_err(|e| anyhow!("{}: {e}", out.display()))?;
    c.finish(&mut f)
}

/// Adds `src` and everything below it as `dst` in the archive.
fn add_tree(c: &mut cpio::Cpio, src: &Path, dst: &str) -> Result<()> {
    c.dir(dst)?;
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .map_err(|e| anyhow!("{}: {e}", src.display()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| anyhow!("{}: {e}", src.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{dst}/{}", e.file_name().to_string_lossy());
        let ft = e.file_type()?;
        if ft.is_symlink() {
            // modules_install leaves build/source links to the host tree.
            continue;
        } else if ft.is_dir() {
            add_tree(c, &e.path(), &name)?;
        } else {
            c.file(&name, 0o644, &read(&e.path())?)?;
        }
    }
    Ok(())
}

/// Boots, brings the display up, prints the console and saves a screenshot.
fn run(a: &RunArgs) -> Result<()> {
    let mut cfg = a.vm.config("VGA");
    cfg.echo = true;
    let mut vm = Vm::boot(&cfg, Duration::from_secs(300))?;
    if let Some(m) = &a.load {
        vm.ok(&format!("modprobe {m}"))?;
    }
    vm.ok("test -c /dev/dri/card0 || { echo 'no DRM device: is a driver for the display bound?'; exit 1; }")?;
    vm.ok("dmesg -n 7; echo; cat /proc/version; grep -H . /sys/class/drm/card0/device/driver/module/srcversion 2>/dev/null; \
           ls -l /sys/class/drm/card0/device/driver")?;
    vm.ok("printf '\\n  rbochs guest up: %s\\n' \"$(uname -r)\" > /dev/tty0")?;
    let shot = cfg.workdir.join("screen.png");
    // fbcon draws through deferred I/O: poll until something is on screen.
    let mut tries = 0;
    loop {
        vm.screendump(&shot)?;
        let img = image::Image::load(&shot)?;
        if img.colours() > 1 || tries == 50 {
            println!(
                "vmtest: {}x{} screenshot saved to {}",
                img.width,
                img.height,
                shot.display()
            );
            break;
        }
        tries += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    if cfg.backend != "none" {
        println!("vmtest: close the QEMU window to end");
        let _ = vm.wait_for(|_| false, Duration::from_secs(24 * 3600));
        return Ok(());
    }
    vm.shutdown()
}

/// Runs the suites `a` names, in order; whether all passed. A name that is not a suite is
/// an error before any guest boots.
fn check(a: &CheckArgs) -> Result<bool> {
    let cfg = a.vm.config("VGA");
    let suites = a
        .suites
        .iter()
        .map(|s| suite::find(s))
        .collect::<Result<Vec<_>>>()?;
    let mut failed = 0;
    let mut lines = Vec::new();
    for s in suites {
        let mut rep = suite::Report::new(&s.name);
        s.run(&cfg, &mut rep)?;
        failed += rep.failed;
        lines.extend(rep.lines);
    }
    write_lines(&a.results, &lines)?;
    Ok(failed == 0)
}

/// Writes result lines to `path`.
fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    std::fs::write(path, lines.join("\n") + "\n").map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Adds up PASS/FAIL/SKIP lines and cargo's "test result:" lines.
fn summary(files: &[PathBuf]) -> Result<bool> {
    let (mut p, mut f, mut s) = (0, 0, 0);
    for file in files {
        let text = String::from_utf8_lossy(&read(file)?).into_owned();
        let (tp, tf, ts) = count(&text);
        p += tp;
        f += tf;
        s += ts;
        for l in text.lines().filter(|l| l.starts_with("FAIL ")) {
            println!("{}", l.lines().next().unwrap_or(l));
        }
    }
    println!("{}", suite::summary_line(p, f, s));
    Ok(f == 0)
}

fn count(text: &str) -> (usize, usize, usize) {
    let (mut p, mut f, mut s) = (0, 0, 0);
    for l in text.lines() {
        if l.starts_with("PASS ") {
            p += 1;
        } else if l.starts_with("FAIL ") {
            f += 1;
        } else if l.starts_with("SKIP ") {
            s += 1;
        } else if let Some(r) = l.strip_prefix("test result: ") {
            // test result: ok. 7 passed; 0 failed; 0 ignored; ...
            for part in r.split(['.', ';']) {
                let w: Vec<&str> = part.split_whitespace().collect();
                if let [n, what] = w.as_slice() {
                    let n: usize = n.parse().unwrap_or(0);
                    match *what {
                        "passed" => p += n,
                        "failed" => f += n,
                        "ignored" => s += n,
                        _ => {}
                    }
                }
            }
        }
    }
    (p, f, s)
}

/// IGT GPU Tools on rbochs and C bochs; the initramfs must carry IGT under /igt.
fn igt_cmd(a: &IgtArgs) -> Result<bool> {
    let cfg = a.vm.config("VGA");
    let per_test = Duration::from_secs(a.timeout.into());
    let rep = igt::igt(
        &cfg,
        per_test,
        &a.tests,
        &a.report,
        a.timing_runs,
        a.timing_only,
    )?;
    write_lines(&a.results, &rep.lines)?;
    Ok(rep.failed == 0)
}

/// Compiles the misuse suite's cases; see [`misuse`].
fn misuse_build(a: &MisuseBuildArgs) -> Result<bool> {
    let cfg = misuse::BuildConfig {
        tree: a.tree.clone(),
        build: a.build.clone(),
        arch: a.arch.clone(),
        llvm: a.llvm.clone(),
        out: a.out.clone(),
        jobs: a.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |j| j as usize,
        ),
    };
    let (lines, ok) = misuse::build(&cfg, &a.cases)?;
    write_lines(&a.results, &lines)?;
    Ok(ok)
}

/// Real clients on C bochs and rbochs; the initramfs must carry them.
fn clients_cmd(a: &ClientsArgs) -> Result<bool> {
    let rep = clients::clients(&a.vm.config("VGA"))?;
    write_lines(&a.results, &rep.lines)?;
    Ok(rep.failed == 0)
}

fn main() -> ExitCode {
    let res = match Cli::parse().command {
        Command::Initramfs(a) => initramfs(&a).map(|_| true),
        Command::Run(a) => run(&a).map(|_| true),
        Command::Check(a) => check(&a),
        Command::Summary { files } => summary(&files),
        Command::Bench(a) => bench::bench(&a),
        Command::Igt(a) => igt_cmd(&a),
        Command::IgtTests => {
            igt::TESTS.iter().for_each(|t| println!("{}", t.name));
            Ok(true)
        }
        Command::Clients(a) => clients_cmd(&a),
        Command::MisuseBuild(a) => misuse_build(&a),
    };
    match res {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vmtest: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::VmConfig;

    #[test]
    fn counts_all_sources() {
        let text = "PASS a.b\nFAIL a.c: why\nSKIP a.d: no kvm\n\
                    test result: ok. 7 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(count(text), (8, 2, 3));
    }

    #[test]
    fn qemu_that_cannot_start_is_reported() {
        let dir = std::env::temp_dir().join(format!("vmtest-noqemu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k = dir.join("Image");
        std::fs::write(&k, b"x").unwrap();
        let cfg = VmConfig {
            qemu: "/nonexistent/qemu-system-aarch64".into(),
            arch: "arm64".into(),
            kernel: k.clone(),
            initrd: k,
            display: "VGA".into(),
            append: String::new(),
            backend: "none".into(),
            workdir: dir.clone(),
            echo: false,
            time_scale: 1.0,
            extra: Vec::new(),
        };
        let err = Vm::boot(&cfg, Duration::from_secs(5))
            .err()
            .expect("boot must fail")
            .to_string();
        assert!(
            err.starts_with("cannot start QEMU (/nonexistent/qemu-system-aarch64)"),
            "{err}"
        );

        // A QEMU that starts but refuses its arguments: its own words are shown.
        let cfg = VmConfig {
            qemu: "qemu-system-aarch64".into(),
            display: "no-such-device".into(),
            ..cfg
        };
        let err = Vm::boot(&cfg, Duration::from_secs(30))
            .err()
            .expect("boot must fail")
            .to_string();
        assert!(
            err.contains("QEMU exited") && err.contains("no-such-device"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
