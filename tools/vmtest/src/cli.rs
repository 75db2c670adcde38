// SPDX-License-Identifier: GPL-2.0
//! vmtest's command line: the subcommands the Makefile and `tools/check.sh` call.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::vm::VmConfig;

#[derive(Parser, Debug)]
#[command(name = "vmtest", about = "Host side of the rbochs tests")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Writes the guest's initramfs.
    Initramfs(InitramfsArgs),
    /// Boots, brings the display up, prints the console and saves a screenshot.
    Run(RunArgs),
    /// Runs in-guest suites and writes one result line per test.
    Check(CheckArgs),
    /// Adds up PASS/FAIL/SKIP lines and cargo's "test result:" lines.
    Summary { files: Vec<PathBuf> },
    /// rbochs against Linux's C bochs driver and the memcpy limit.
    Bench(BenchArgs),
    /// IGT GPU Tools on rbochs and C bochs; the initramfs must carry IGT under /igt.
    Igt(IgtArgs),
    /// The IGT tests `vmtest igt` runs, one a line.
    IgtTests,
    /// Real clients (Xorg's modesetting driver, weston) on C bochs and rbochs double- and
    /// single-buffered; the initramfs must carry them (tools/clients-initramfs.sh).
    Clients(ClientsArgs),
    /// Compiles the misuse suite's cases against a kernel build: checks those that must not
    /// compile, and packs the others' modules for the `misuse` suite.
    MisuseBuild(MisuseBuildArgs),
}

#[derive(Args, Debug)]
pub struct InitramfsArgs {
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub busybox: PathBuf,
    /// The in-guest test program, installed as /bin/rbguest.
    #[arg(long)]
    pub guest: PathBuf,
    #[arg(long)]
    pub init: PathBuf,
    /// Installed as /lib/modules.
    #[arg(long)]
    pub modules: Option<PathBuf>,
    /// A further program for /bin, under its own name; may be repeated.
    #[arg(long)]
    pub extra: Vec<PathBuf>,
}

/// How to boot the guest.
#[derive(Args, Debug)]
pub struct VmArgs {
    #[arg(long)]
    pub kernel: PathBuf,
    #[arg(long)]
    pub initrd: PathBuf,
    /// Working directory: logs, screenshots, the QMP socket.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "arm64")]
    pub arch: String,
    /// The QEMU binary (default: qemu-system-aarch64 or qemu-system-x86_64 by --arch).
    #[arg(long)]
    pub qemu: Option<String>,
    /// The display device and its options, as given to QEMU's -device.
    #[arg(long)]
    pub device: Option<String>,
    /// Extra kernel command line.
    #[arg(long, default_value = "")]
    pub append: String,
    /// QEMU's -display backend.
    #[arg(long, default_value = "none")]
    pub display: String,
}

impl VmArgs {
    /// The guest these arguments describe, on `default_device` unless --device names one.
    pub fn config(&self, default_device: &str) -> VmConfig {
        let default_qemu = if self.arch == "x86_64" {
            "qemu-system-x86_64"
        } else {
            "qemu-system-aarch64"
        };
        VmConfig {
            qemu: self.qemu.as_deref().unwrap_or(default_qemu).to_string(),
            arch: self.arch.clone(),
            kernel: self.kernel.clone(),
            initrd: self.initrd.clone(),
            display: self.device.as_deref().unwrap_or(default_device).to_string(),
            append: self.append.clone(),
            backend: self.display.clone(),
            workdir: self.out.clone(),
            echo: false,
            time_scale: std::env::var("VMTEST_TIME_SCALE")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1.0),
            extra: Vec::new(),
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// A module to load before looking for the card.
    #[arg(long)]
    pub load: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// Where the result lines go.
    #[arg(long)]
    pub results: PathBuf,
    /// Suites to run, in order (see `suite::SUITES`).
    pub suites: Vec<String>,
}

/// A count that must be positive.
fn positive() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..)
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// Where the report goes (default: bench/results, or --out with --smoke).
    #[arg(long)]
    pub results_dir: Option<PathBuf>,
    /// A file for the one result line.
    #[arg(long)]
    pub results: Option<PathBuf>,
    #[arg(long, value_parser = positive())]
    pub runs: Option<u32>,
    #[arg(long, value_parser = positive())]
    pub frames: Option<u32>,
    #[arg(long, value_parser = positive())]
    pub switches: Option<u32>,
    #[arg(long, value_parser = positive())]
    pub lines: Option<u32>,
    /// Every workload once with a handful of updates; sanity only.
    #[arg(long)]
    pub smoke: bool,
    /// Run without the VNC viewer (QEMU's display side then never reads video memory).
    #[arg(long)]
    pub no_viewer: bool,
}

#[derive(Args, Debug)]
pub struct IgtArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    #[arg(long)]
    pub results: PathBuf,
    /// The markdown comparison.
    #[arg(long)]
    pub report: PathBuf,
    /// Seconds each IGT test may take.
    #[arg(long, default_value_t = 120, value_parser = positive())]
    pub timeout: u32,
    /// How many times each timing subtest runs on each driver.
    #[arg(long, default_value_t = 2, value_parser = positive())]
    pub timing_runs: u32,
    /// Only the timing subtests.
    #[arg(long)]
    pub timing_only: bool,
    /// IGT tests to run (default: all of `vmtest igt-tests`).
    pub tests: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ClientsArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// Where the result lines go.
    #[arg(long)]
    pub results: PathBuf,
}

#[derive(Args, Debug)]
pub struct MisuseBuildArgs {
    /// The kernel source tree.
    #[arg(long)]
    pub tree: PathBuf,
    /// Its build directory (O=), built with Rust.
    #[arg(long)]
    pub build: PathBuf,
    #[arg(long, default_value = "arm64")]
    pub arch: String,
    /// LLVM= of the kernel build.
    #[arg(long, default_value = "-19")]
    pub llvm: String,
    /// The cases, one module per `*.rs` file.
    #[arg(long, default_value = "tools/misuse/cases")]
    pub cases: PathBuf,
    /// Scratch builds, misuse.cpio and cases.json (the `misuse` suite looks for them in
    /// `misuse` beside the initramfs).
    #[arg(long)]
    pub out: PathBuf,
    /// Where the result lines go.
    #[arg(long)]
    pub results: PathBuf,
    /// Cases compiled at once (default: the CPUs).
    #[arg(long, value_parser = positive())]
    pub jobs: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("vmtest").chain(line.split_whitespace()))
    }

    #[test]
    fn values_are_required() {
        assert!(parse("initramfs --out").is_err());
        assert!(parse("check --kernel k --initrd i --out o").is_err());
    }

    #[test]
    fn repeats_switches_and_positionals() {
        let cli = parse(
            "initramfs --out o --busybox b --guest g --init i --extra a --extra b --modules m",
        )
        .unwrap();
        let Command::Initramfs(a) = cli.command else {
            panic!("not initramfs: {cli:?}");
        };
        assert_eq!(a.extra, [PathBuf::from("a"), PathBuf::from("b")]);

        let cli = parse("bench --kernel k --initrd i --out o --smoke --runs 3").unwrap();
        let Command::Bench(b) = cli.command else {
            panic!("not bench: {cli:?}");
        };
        assert!(b.smoke);
        assert_eq!((b.runs, b.frames), (Some(3), None));
        assert_eq!(b.vm.config("VGA,xres=1920").display, "VGA,xres=1920");
        assert!(parse("bench --kernel k --initrd i --out o --runs 0").is_err());

        let cli = parse("check --kernel k --initrd i --out o --results r x y").unwrap();
        let Command::Check(c) = cli.command else {
            panic!("not check: {cli:?}");
        };
        assert_eq!(c.suites, ["x", "y"]);
        let cfg = c.vm.config("VGA");
        assert_eq!(
            (cfg.qemu.as_str(), cfg.display.as_str()),
            ("qemu-system-aarch64", "VGA")
        );
    }

    #[test]
    fn misuse_build_defaults() {
        let cli = parse("misuse-build --tree t --build b --out o --results r").unwrap();
        let Command::MisuseBuild(a) = cli.command else {
            panic!("not misuse-build: {cli:?}");
        };
        assert_eq!(
            (a.arch.as_str(), a.llvm.as_str(), a.jobs),
            ("arm64", "-19", None)
        );
        assert_eq!(a.cases, PathBuf::from("tools/misuse/cases"));
        assert!(parse("misuse-build --tree t --build b --out o").is_err());
        assert!(parse("misuse-build --tree t --build b --out o --results r --jobs 0").is_err());
    }

    #[test]
    fn igt_defaults() {
        let cli = parse("igt --arch x86_64 --kernel k --initrd i --out o --results r --report m --device bochs-display")
            .unwrap();
        let Command::Igt(a) = cli.command else {
            panic!("not igt: {cli:?}");
        };
        assert_eq!((a.timeout, a.timing_runs, a.timing_only), (120, 2, false));
        let cfg = a.vm.config("VGA");
        assert_eq!(
            (cfg.qemu.as_str(), cfg.display.as_str()),
            ("qemu-system-x86_64", "bochs-display")
        );
    }
}
