// SPDX-License-Identifier: GPL-2.0
//! Host side of the rbochs tests.
//!
//! ```text
//! vmtest initramfs --out FILE --busybox BIN --guest BIN --init SCRIPT [--modules DIR]
//!                  [--extra BIN]...   (each extra program goes to /bin under its own name)
//! vmtest run       --kernel IMG --initrd FILE [--arch A] [--device DEV] [--display BACKEND]
//!                  [--load MODULE] --out DIR
//! vmtest check     --kernel IMG --initrd FILE [--arch A] --out DIR --results FILE SUITE...
//! vmtest summary   FILE...
//! vmtest bench     --kernel IMG --initrd FILE --out DIR [--results-dir DIR] [--results FILE]
//!                  [--runs N] [--frames N] [--switches N] [--lines N] [--device DEV] [--smoke]
//! vmtest igt       --kernel IMG --initrd FILE --arch x86_64 --out DIR --results FILE
//!                  --report FILE.md [--device DEV] [--timeout SECS] [TEST...]
//! vmtest igt-tests (the IGT tests `vmtest igt` runs, one a line)
//! ```

mod bench;
mod cpio;
mod igt;
mod image;
mod ptdump;
mod suite;
mod vm;

use anyhow::anyhow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use vm::{Vm, VmConfig};

pub use anyhow::Result;

/// Flags that take no value.
const SWITCHES: &[&str] = &["smoke"];

/// `--flag value` pairs (the last of a repeated flag wins, [`Args::all`] has every one),
/// [`SWITCHES`] and positional arguments.
struct Args {
    flags: HashMap<String, String>,
    repeated: Vec<(String, String)>,
    rest: Vec<String>,
}

impl Args {
    fn parse(args: &[String]) -> Result<Args> {
        let mut flags = HashMap::new();
        let mut repeated = Vec::new();
        let mut rest = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let v = if SWITCHES.contains(&name) {
                    "1".to_string()
                } else {
                    it.next()
                        .ok_or_else(|| anyhow!("--{name} needs a value"))?
                        .clone()
                };
                repeated.push((name.to_string(), v.clone()));
                flags.insert(name.to_string(), v);
            } else {
                rest.push(a.clone());
            }
        }
        Ok(Args {
            flags,
            repeated,
            rest,
        })
    }

    /// Whether switch `--name` was given.
    fn has(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    /// Every value of a repeatable flag, in order.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.repeated
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric flag, or `default` when absent.
    fn num(&self, name: &str, default: u32) -> Result<u32> {
        match self.flags.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| anyhow!("--{name} wants a positive number, not '{v}'")),
        }
    }

    fn get(&self, name: &str) -> Result<&str> {
        self.flags
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("--{name} is required"))
    }

    fn or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.flags.get(name).map(String::as_str).unwrap_or(default)
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        self.get(name).map(PathBuf::from)
    }
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| anyhow!("{}: {e}", p.display()))
}

fn initramfs(a: &Args) -> Result<()> {
    let mut c = cpio::Cpio::default();
    for d in [
        "bin", "sbin", "dev", "proc", "sys", "tmp", "root", "etc", "lib",
    ] {
        c.dir(d)?;
    }
    c.file("init", 0o755, &read(&a.path("init")?)?)?;
    c.file("bin/busybox", 0o755, &read(&a.path("busybox")?)?)?;
    c.file("bin/rbguest", 0o755, &read(&a.path("guest")?)?)?;
    for extra in a.all("extra") {
        let p = Path::new(extra);
        let name = p
            .file_name()
            .ok_or_else(|| anyhow!("--extra {extra}: not a file name"))?;
        c.file(&format!("bin/{}", name.to_string_lossy()), 0o755, &read(p)?)?;
    }
    if let Some(m) = a.flags.get("modules") {
        add_tree(&mut c, Path::new(m), "lib/modules")?;
    }
    let out = a.path("out")?;
    let mut f = std::fs::File::create(&out).map_err(|e| anyhow!("{}: {e}", out.display()))?;
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

fn vm_config(a: &Args) -> Result<VmConfig> {
    let arch = a.or("arch", "arm64").to_string();
    let default_qemu = if arch == "x86_64" {
        "qemu-system-x86_64"
    } else {
        "qemu-system-aarch64"
    };
    Ok(VmConfig {
        qemu: a.or("qemu", default_qemu).to_string(),
        arch,
        kernel: a.path("kernel")?,
        initrd: a.path("initrd")?,
        display: a.or("device", "VGA").to_string(),
        append: a.or("append", "").to_string(),
        backend: a.or("display", "none").to_string(),
        workdir: a.path("out")?,
        echo: false,
        time_scale: std::env::var("VMTEST_TIME_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0),
    })
}

/// Boots, brings the display up, prints the console and saves a screenshot.
fn run(a: &Args) -> Result<()> {
    let mut cfg = vm_config(a)?;
    cfg.echo = true;
    let mut vm = Vm::boot(&cfg, Duration::from_secs(300))?;
    if let Some(m) = a.flags.get("load") {
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

fn check(a: &Args) -> Result<bool> {
    let cfg = vm_config(a)?;
    let mut failed = 0;
    let mut lines = Vec::new();
    for s in &a.rest {
        let mut rep = suite::Report::new(s);
        match s.as_str() {
            "cbochs-vga" => suite::driver_suite(&cfg, &suite::C_BOCHS, "VGA", &mut rep)?,
            "cbochs-display" => {
                suite::driver_suite(&cfg, &suite::C_BOCHS, "bochs-display", &mut rep)?
            }
            "rbochs-vga" => suite::driver_suite(&cfg, &suite::RBOCHS, "VGA", &mut rep)?,
            "rbochs-display" => {
                suite::driver_suite(&cfg, &suite::RBOCHS, "bochs-display", &mut rep)?
            }
            "rbochs-noedid" => suite::noedid_suite(&cfg, &suite::RBOCHS, &mut rep)?,
            "cbochs-noedid" => suite::noedid_suite(&cfg, &suite::C_BOCHS, &mut rep)?,
            "builtin" => suite::builtin_suite(&cfg, &mut rep)?,
            "kunit" => suite::kunit_suite(&cfg, &mut rep)?,
            "sample" => suite::sample_suite(&cfg, &mut rep)?,
            "rbochs-fuzz" => suite::fuzz_suite(&cfg, &suite::RBOCHS, &mut rep)?,
            "cbochs-fuzz" => suite::fuzz_suite(&cfg, &suite::C_BOCHS, &mut rep)?,
            "rbochs-odd" => suite::odd_suite(&cfg, &suite::RBOCHS, &mut rep)?,
            "cbochs-odd" => suite::odd_suite(&cfg, &suite::C_BOCHS, &mut rep)?,
            "rbochs-hotplug" => suite::hotplug_suite(&cfg, &suite::RBOCHS, &mut rep)?,
            "cbochs-hotplug" => suite::hotplug_suite(&cfg, &suite::C_BOCHS, &mut rep)?,
            "rbochs-stress" => suite::stress_suite(&cfg, &suite::RBOCHS, 100, &mut rep)?,
            "cbochs-stress" => suite::stress_suite(&cfg, &suite::C_BOCHS, 100, &mut rep)?,
            _ => return Err(anyhow!("unknown suite '{s}'")),
        }
        failed += rep.failed;
        lines.extend(rep.lines);
    }
    let res = a.path("results")?;
    std::fs::write(&res, lines.join("\n") + "\n").map_err(|e| anyhow!("{}: {e}", res.display()))?;
    Ok(failed == 0)
}

/// Adds up PASS/FAIL/SKIP lines and cargo's "test result:" lines.
fn summary(files: &[String]) -> Result<bool> {
    let (mut p, mut f, mut s) = (0, 0, 0);
    for file in files {
        let text = String::from_utf8_lossy(&read(Path::new(file))?).into_owned();
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
fn igt_cmd(a: &Args) -> Result<bool> {
    let cfg = vm_config(a)?;
    let per_test = Duration::from_secs(a.num("timeout", 120)?.into());
    let rep = igt::igt(&cfg, per_test, &a.rest, &a.path("report")?)?;
    let res = a.path("results")?;
    std::fs::write(&res, rep.lines.join("\n") + "\n")
        .map_err(|e| anyhow!("{}: {e}", res.display()))?;
    Ok(rep.failed == 0)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        eprintln!("usage: vmtest initramfs|run|check|summary|bench|igt ...");
        return ExitCode::from(2);
    };
    let res = Args::parse(rest).and_then(|a| match cmd.as_str() {
        "initramfs" => initramfs(&a).map(|_| true),
        "run" => run(&a).map(|_| true),
        "check" => check(&a),
        "summary" => summary(&a.rest),
        "bench" => bench::bench(&a),
        "igt" => igt_cmd(&a),
        "igt-tests" => {
            igt::TESTS.iter().for_each(|t| println!("{}", t.name));
            Ok(true)
        }
        _ => Err(anyhow!("unknown command '{cmd}'")),
    });
    match res {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vmtest: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_all_sources() {
        let text = "PASS a.b\nFAIL a.c: why\nSKIP a.d: no kvm\n\
                    test result: ok. 7 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(count(text), (8, 2, 3));
    }

    #[test]
    fn args_need_values() {
        let a: Vec<String> = ["--out"].iter().map(|s| s.to_string()).collect();
        assert!(Args::parse(&a).is_err());
    }

    #[test]
    fn args_switches_and_repeats() -> Result<()> {
        let argv = "--extra a --smoke --extra b --runs 3 x";
        let a: Vec<String> = argv.split(' ').map(String::from).collect();
        let a = Args::parse(&a)?;
        assert!(a.has("smoke") && !a.has("frames"));
        assert_eq!(a.all("extra").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!((a.num("runs", 5)?, a.num("frames", 7)?), (3, 7));
        assert_eq!(a.rest, ["x"]);
        let bad: Vec<String> = ["--runs", "0"].iter().map(|s| s.to_string()).collect();
        assert!(Args::parse(&bad)?.num("runs", 5).is_err());
        Ok(())
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
