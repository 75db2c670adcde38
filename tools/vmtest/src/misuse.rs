// SPDX-License-Identifier: GPL-2.0
//! The misuse suite's cases (`tools/misuse/cases/*.rs`) and their build (`vmtest misuse-build`).
//!
//! Each case is a complete out-of-tree kernel module in safe Rust that tries to misuse the
//! kernel crate. A header line says what must happen:
//!
//! - `// expect: compile-error E0133 [E....]`: the module must fail to compile, with errors of
//!   exactly those codes (every expected code appears, no other error);
//! - `// expect: insmod-errno EINVAL`: it compiles, and loading it fails with that errno;
//! - `// expect: rmmod-errno EAGAIN`: it loads, and unloading it fails with that errno;
//! - `// expect: clean`: it loads, its triggers run, it unloads.
//!
//! Further header lines: `// params: a=1 b=2` (given to `insmod`) and `// trigger: CMD`
//! (repeatable; a guest shell command run after a successful `insmod`, e.g. `rbguest info`,
//! whose exit status is not checked). Whatever a case expects, the kernel log must stay free of
//! KASAN, lockdep, WARN, BUG and oops reports, and of `MISUSE-FAIL`, which a case's module
//! prints to fail a check of its own (see the `misuse` suite).
//!
//! The build compiles every case in a scratch directory against a kernel tree and build
//! directory, writes one PASS/FAIL line per case, and gathers the modules that built into
//! `misuse.cpio` (as `/misuse/NAME.ko`, appended to the guest's initramfs by the suite) with
//! `cases.json`, the runtime cases' expectations.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::anyhow;
use serde_json::json;

use crate::cpio::Cpio;
use crate::Result;

/// What must happen to a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Fails to compile with errors of these codes only (each of them present).
    CompileError(Vec<String>),
    /// Loads, but `insmod` fails with this errno (e.g. `EINVAL`).
    InsmodErrno(String),
    /// Loads, and `rmmod` fails with this errno.
    RmmodErrno(String),
    /// Loads, runs its triggers, unloads.
    Clean,
}

impl Expect {
    /// The header text of the expectation (`insmod-errno EINVAL`).
    pub fn describe(&self) -> String {
        match self {
            Expect::CompileError(codes) => format!("compile-error {}", codes.join(" ")),
            Expect::InsmodErrno(e) => format!("insmod-errno {e}"),
            Expect::RmmodErrno(e) => format!("rmmod-errno {e}"),
            Expect::Clean => "clean".into(),
        }
    }

    fn parse(s: &str) -> Result<Expect> {
        let w: Vec<&str> = s.split_whitespace().collect();
        match w.as_slice() {
            ["clean"] => Ok(Expect::Clean),
            ["compile-error", codes @ ..] if !codes.is_empty() => {
                for c in codes {
                    if !is_error_code(c) {
                        return Err(anyhow!("'{c}' is not a rustc error code (E0133)"));
                    }
                }
                Ok(Expect::CompileError(
                    codes.iter().map(|c| c.to_string()).collect(),
                ))
            }
            ["insmod-errno", e] | ["rmmod-errno", e] => {
                if strerror(e).is_none() {
                    return Err(anyhow!("unknown errno '{e}' (known: {})", known_errnos()));
                }
                Ok(if w[0] == "insmod-errno" {
                    Expect::InsmodErrno(e.to_string())
                } else {
                    Expect::RmmodErrno(e.to_string())
                })
            }
            _ => Err(anyhow!(
                "bad expectation '{s}': want 'compile-error E0133 ...', 'insmod-errno ENAME', \
                 'rmmod-errno ENAME' or 'clean'"
            )),
        }
    }
}

/// One case: `name` is its file's stem, the module's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    pub expect: Expect,
    /// Module parameters for `insmod`.
    pub params: String,
    /// Guest shell commands run after a successful `insmod`.
    pub triggers: Vec<String>,
}

fn is_error_code(c: &str) -> bool {
    c.len() == 5 && c.starts_with('E') && c[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The header of a case's source: one `// expect:` line, any `// params:` and `// trigger:`.
pub fn parse_case(name: &str, src: &str) -> Result<Case> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(anyhow!(
            "case name '{name}' must be a module name: lowercase letters, digits and '_'"
        ));
    }
    let mut expect = None;
    let mut params = String::new();
    let mut triggers = Vec::new();
    for line in src.lines() {
        let Some(rest) = line.trim_start().strip_prefix("//") else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(e) = rest.strip_prefix("expect:") {
            if expect.is_some() {
                return Err(anyhow!("more than one '// expect:' line"));
            }
            expect = Some(Expect::parse(e)?);
        } else if let Some(p) = rest.strip_prefix("params:") {
            params = p.trim().to_string();
        } else if let Some(t) = rest.strip_prefix("trigger:") {
            triggers.push(t.trim().to_string());
        }
    }
    let expect = expect.ok_or_else(|| anyhow!("no '// expect:' line"))?;
    if let Some(l) = unsafe_line(src) {
        return Err(anyhow!(
            "line {l} uses `unsafe`: the cases are safe Rust (only the kernel crate may use it)"
        ));
    }
    Ok(Case {
        name: name.to_string(),
        expect,
        params,
        triggers,
    })
}

/// The first line (1-based) that has the word `unsafe` outside a `//` comment.
fn unsafe_line(src: &str) -> Option<usize> {
    src.lines()
        .position(|l| {
            let code = l.split("//").next().unwrap_or("");
            code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == "unsafe")
        })
        .map(|i| i + 1)
}

/// The codes of rustc's errors in a build log (`error[E0133]: ...`), in order, and how many
/// errors had no code (other than rustc's closing `aborting due to` line).
pub fn rustc_errors(log: &str) -> (Vec<String>, Vec<String>) {
    let mut codes = Vec::new();
    let mut uncoded = Vec::new();
    for l in log.lines() {
        if let Some(rest) = l.strip_prefix("error[") {
            if let Some((code, _)) = rest.split_once("]:") {
                codes.push(code.to_string());
                continue;
            }
        }
        if let Some(msg) = l.strip_prefix("error: ") {
            if !msg.starts_with("aborting due to") {
                uncoded.push(l.to_string());
            }
        }
    }
    (codes, uncoded)
}

/// Whether a failed build's log shows exactly the expected errors.
pub fn check_compile_errors(expected: &[String], log: &str) -> Result<()> {
    let (codes, uncoded) = rustc_errors(log);
    if codes.is_empty() && uncoded.is_empty() {
        return Err(anyhow!(
            "the build failed without a rustc error:\n{}",
            excerpt(log)
        ));
    }
    let missing: Vec<&String> = expected.iter().filter(|e| !codes.contains(e)).collect();
    let mut other: Vec<String> = codes
        .iter()
        .filter(|c| !expected.contains(c))
        .cloned()
        .collect();
    other.sort();
    other.dedup();
    if missing.is_empty() && other.is_empty() && uncoded.is_empty() {
        return Ok(());
    }
    let mut why = Vec::new();
    if !missing.is_empty() {
        why.push(format!("no {}", join(&missing)));
    }
    if !other.is_empty() {
        why.push(format!("other errors {}", other.join(" ")));
    }
    if !uncoded.is_empty() {
        why.push(format!("errors without a code: {}", uncoded.join(" | ")));
    }
    Err(anyhow!("{}:\n{}", why.join("; "), excerpt(log)))
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// The lines of a build log worth showing: rustc's errors with their context, or its end.
fn excerpt(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("error"))
        .unwrap_or(lines.len().saturating_sub(15));
    lines[first..]
        .iter()
        .take(25)
        .map(|l| format!("    | {l}\n"))
        .collect()
}

/// glibc's message for an errno name, as busybox's insmod and rmmod print it.
pub fn strerror(name: &str) -> Option<&'static str> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

fn known_errnos() -> String {
    ERRNOS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
}

const ERRNOS: &[(&str, &str)] = &[
    ("EPERM", "Operation not permitted"),
    ("ENOENT", "No such file or directory"),
    ("EIO", "Input/output error"),
    ("ENXIO", "No such device or address"),
    ("E2BIG", "Argument list too long"),
    ("EBADF", "Bad file descriptor"),
    ("EAGAIN", "Resource temporarily unavailable"),
    ("EWOULDBLOCK", "Resource temporarily unavailable"),
    ("ENOMEM", "Cannot allocate memory"),
    ("EFAULT", "Bad address"),
    ("EBUSY", "Device or resource busy"),
    ("EEXIST", "File exists"),
    ("ENODEV", "No such device"),
    ("EINVAL", "Invalid argument"),
    ("ENOSPC", "No space left on device"),
    ("EDOM", "Numerical argument out of domain"),
    ("ERANGE", "Numerical result out of range"),
    ("EDEADLK", "Resource deadlock avoided"),
    ("ENOSYS", "Function not implemented"),
    ("EOVERFLOW", "Value too large for defined data type"),
    ("ENOTTY", "Inappropriate ioctl for device"),
    ("EACCES", "Permission denied"),
    ("ENODATA", "No data available"),
    ("EPROTO", "Protocol error"),
    ("EOPNOTSUPP", "Operation not supported"),
    ("EALREADY", "Operation already in progress"),
    ("EINPROGRESS", "Operation now in progress"),
    ("ETIMEDOUT", "Connection timed out"),
    ("ECANCELED", "Operation canceled"),
    ("ENOTRECOVERABLE", "State not recoverable"),
    // Kernel-internal codes that reach userspace unnamed.
    ("EPROBE_DEFER", "Unknown error 517"),
    ("ENOTSUPP", "Unknown error 524"),
];

/// The cases in `dir` (`*.rs`), sorted by name; a case whose header does not parse is an
/// `Err` under its name.
pub fn load_cases(dir: &Path) -> Result<Vec<(String, PathBuf, Result<Case>)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    for e in entries {
        let p = e?.path();
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let case = std::fs::read_to_string(&p)
            .map_err(|e| anyhow!("{}: {e}", p.display()))
            .and_then(|src| parse_case(&name, &src));
        out.push((name, p, case));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        return Err(anyhow!("no cases (*.rs) in {}", dir.display()));
    }
    Ok(out)
}

/// Where and how `misuse-build` compiles.
pub struct BuildConfig {
    /// The kernel source tree (`make -C`).
    pub tree: PathBuf,
    /// Its build directory (`O=`).
    pub build: PathBuf,
    pub arch: String,
    /// `LLVM=` of the kernel build.
    pub llvm: String,
    /// Scratch directories, `misuse.cpio` and `cases.json` go here.
    pub out: PathBuf,
    pub jobs: usize,
}

/// A case's result line (its note, or why it failed), and whether its module goes to the guest.
type Judged = (Result<String>, bool);

/// What compiling one case gave.
struct Built {
    ok: bool,
    log: String,
    secs: f64,
}

fn compile(cfg: &BuildConfig, name: &str, src: &Path) -> Result<Built> {
    let dir = cfg.out.join("build").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    std::fs::copy(src, dir.join(format!("{name}.rs")))
        .map_err(|e| anyhow!("{}: {e}", src.display()))?;
    // What cases share (`include!("display.rs")`) lives in `include/` beside `cases/`.
    if let Some(include) = src
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("include"))
    {
        if include.is_dir() {
            for f in std::fs::read_dir(&include)? {
                let f = f?.path();
                if let Some(file) = f.file_name() {
                    std::fs::copy(&f, dir.join(file))
                        .map_err(|e| anyhow!("{}: {e}", f.display()))?;
                }
            }
        }
    }
    std::fs::write(dir.join("Kbuild"), format!("obj-m := {name}.o\n"))?;
    let t0 = Instant::now();
    let out = Command::new("make")
        .arg("-C")
        .arg(&cfg.tree)
        .arg(format!("O={}", cfg.build.display()))
        .arg(format!("ARCH={}", cfg.arch))
        .arg(format!("LLVM={}", cfg.llvm))
        .arg(format!("M={}", dir.display()))
        .arg("modules")
        .output()
        .map_err(|e| anyhow!("cannot run make: {e}"))?;
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("build.log"), &log)?;
    Ok(Built {
        ok: out.status.success() && dir.join(format!("{name}.ko")).exists(),
        log,
        secs: t0.elapsed().as_secs_f64(),
    })
}

/// The result line of one case's build, and whether its module goes to the guest.
fn judge(case: &Case, built: &Built) -> Judged {
    let t = format!("{:.1}s", built.secs);
    match (&case.expect, built.ok) {
        (Expect::CompileError(codes), false) => (
            check_compile_errors(codes, &built.log)
                .map(|_| format!("refused to compile with {} ({t})", codes.join(" "))),
            false,
        ),
        (Expect::CompileError(codes), true) => (
            Err(anyhow!(
                "compiled, but must fail with {} ({t})",
                codes.join(" ")
            )),
            false,
        ),
        (_, true) => (Ok(format!("built ({t})")), true),
        (e, false) => (
            Err(anyhow!(
                "expects '{}' but does not compile:\n{}",
                e.describe(),
                excerpt(&built.log)
            )),
            false,
        ),
    }
}

/// Builds every case in `cases`; returns the result lines (`PASS misuse-build.NAME: ...`) and
/// whether all passed. Writes `misuse.cpio` and `cases.json` to `cfg.out`.
pub fn build(cfg: &BuildConfig, cases: &Path) -> Result<(Vec<String>, bool)> {
    for (what, p) in [("tree", &cfg.tree), ("build directory", &cfg.build)] {
        if !p.join("Makefile").exists() {
            return Err(anyhow!(
                "kernel {what} {} has no Makefile (build the kernel first)",
                p.display()
            ));
        }
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| anyhow!("{}: {e}", cfg.out.display()))?;
    // Nothing of an earlier build may reach the guest if this one stops half-way.
    for f in ["misuse.cpio", "cases.json"] {
        let _ = std::fs::remove_file(cfg.out.join(f));
    }
    let all = load_cases(cases)?;
    let results: Mutex<Vec<Option<Judged>>> = Mutex::new((0..all.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((name, path, case)) = all.get(i) else {
                    break;
                };
                let r = match case {
                    Err(e) => (Err(anyhow!("{}: {e:#}", path.display())), false),
                    Ok(case) => match compile(cfg, name, path) {
                        Ok(built) => judge(case, &built),
                        Err(e) => (Err(e), false),
                    },
                };
                results.lock().expect("no panics")[i] = Some(r);
            });
        }
    });
    let results = results.into_inner().expect("no panics");
    let mut lines = Vec::new();
    let mut passed = true;
    let mut cpio = Cpio::default();
    cpio.dir("misuse")?;
    let mut manifest = Vec::new();
    for ((name, _, case), r) in all.iter().zip(results) {
        let (r, ship) = r.unwrap_or_else(|| (Err(anyhow!("not built")), false));
        let line = match &r {
            Ok(note) => format!("PASS misuse-build.{name}: {note}"),
            Err(e) => {
                passed = false;
                format!("FAIL misuse-build.{name}: {e:#}")
            }
        };
        println!("{line}");
        lines.push(line);
        if let (true, Ok(case)) = (ship, case) {
            let ko = cfg.out.join("build").join(name).join(format!("{name}.ko"));
            let data = std::fs::read(&ko).map_err(|e| anyhow!("{}: {e}", ko.display()))?;
            cpio.file(&format!("misuse/{name}.ko"), 0o644, &data)?;
            manifest.push(json!({
                "name": case.name,
                "expect": case.expect.describe(),
                "params": case.params,
                "triggers": case.triggers,
            }));
        }
    }
    let p = cfg.out.join("misuse.cpio");
    let mut f = std::fs::File::create(&p).map_err(|e| anyhow!("{}: {e}", p.display()))?;
    cpio.finish(&mut f)?;
    let p = cfg.out.join("cases.json");
    std::fs::write(&p, serde_json::to_string_pretty(&manifest)? + "\n")
        .map_err(|e| anyhow!("{}: {e}", p.display()))?;
    Ok((lines, passed))
}

/// The runtime cases `build` wrote to `cases.json`.
pub fn read_manifest(path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let arr = v
        .as_array()
        .ok_or_else(|| anyhow!("{}: not a list", path.display()))?;
    arr.iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            Ok(Case {
                name: s("name"),
                expect: Expect::parse(&s("expect"))?,
                params: s("params"),
                triggers: c["triggers"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let c = parse_case(
            "cross_device",
            "// SPDX-License-Identifier: GPL-2.0\n// expect: insmod-errno EINVAL\n\
             // params: a=1 b=2\n// trigger: rbguest info\n//trigger: cat /x\nuse kernel;\n",
        )
        .unwrap();
        assert_eq!(c.expect, Expect::InsmodErrno("EINVAL".into()));
        assert_eq!(c.params, "a=1 b=2");
        assert_eq!(c.triggers, ["rbguest info", "cat /x"]);
        let c = parse_case("x", "// expect: compile-error E0133 E0499\n").unwrap();
        assert_eq!(
            c.expect,
            Expect::CompileError(vec!["E0133".into(), "E0499".into()])
        );
        assert_eq!(c.expect.describe(), "compile-error E0133 E0499");
        assert_eq!(
            parse_case("x", "// expect: rmmod-errno EAGAIN\n")
                .unwrap()
                .expect,
            Expect::RmmodErrno("EAGAIN".into())
        );
        assert_eq!(
            parse_case("x", "// expect: clean\n").unwrap().expect,
            Expect::Clean
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        for (name, src) in [
            ("x", "use kernel;\n"),
            ("x", "// expect: clean\n// expect: clean\n"),
            ("x", "// expect: compile-error\n"),
            ("x", "// expect: compile-error 133\n"),
            ("x", "// expect: insmod-errno EWHATEVER\n"),
            ("x", "// expect: sometimes\n"),
            ("Bad-Name", "// expect: clean\n"),
            ("1x", "// expect: clean\n"),
            ("x", "// expect: clean\nfn f() { unsafe { g() } }\n"),
        ] {
            assert!(parse_case(name, src).is_err(), "{name}: {src}");
        }
        // `unsafe` in a comment is fine.
        assert!(parse_case("x", "// expect: clean\nf(); // no unsafe here\n").is_ok());
    }

    const E0133: &str = "  RUSTC [M] x.o\n\
        error[E0133]: call to unsafe function `copy_rows_from` is unsafe and requires unsafe block\n\
          --> x.rs:40:9\n\
        error: aborting due to 1 previous error\n\
        For more information about this error, try `rustc --explain E0133`.\n\
        make[3]: *** [scripts/Makefile.build:366: x.o] Error 1\n";

    #[test]
    fn compile_errors_are_matched_exactly() {
        let want = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(rustc_errors(E0133).0, ["E0133"]);
        assert!(check_compile_errors(&want(&["E0133"]), E0133).is_ok());
        let e = check_compile_errors(&want(&["E0308"]), E0133).unwrap_err();
        assert!(
            e.to_string().starts_with("no E0308; other errors E0133"),
            "{e}"
        );
        let two = format!("{E0133}error[E0308]: mismatched types\n");
        assert!(check_compile_errors(&want(&["E0133"]), &two).is_err());
        assert!(check_compile_errors(&want(&["E0133", "E0308"]), &two).is_ok());
        let uncoded = format!("{E0133}error: cannot find macro `foo` in this scope\n");
        assert!(check_compile_errors(&want(&["E0133"]), &uncoded).is_err());
        // A build that fails in make or modpost is no compile error.
        assert!(check_compile_errors(&want(&["E0133"]), "make: *** No rule\n").is_err());
    }

    #[test]
    fn errno_messages() {
        assert_eq!(strerror("EINVAL"), Some("Invalid argument"));
        assert_eq!(strerror("EAGAIN"), strerror("EWOULDBLOCK"));
        assert_eq!(strerror("ENOTSUPP"), Some("Unknown error 524"));
        assert_eq!(strerror("EFOO"), None);
    }

    #[test]
    fn manifest_round_trips() {
        let dir = std::env::temp_dir().join(format!("vmtest-misuse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("cases.json");
        std::fs::write(
            &p,
            r#"[{"name":"a","expect":"insmod-errno EINVAL","params":"x=1","triggers":["t"]}]"#,
        )
        .unwrap();
        let m = read_manifest(&p).unwrap();
        assert_eq!(
            m,
            [Case {
                name: "a".into(),
                expect: Expect::InsmodErrno("EINVAL".into()),
                params: "x=1".into(),
                triggers: vec!["t".into()],
            }]
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Every case in tools/misuse/cases has a header that parses.
    #[test]
    fn shipped_cases_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../misuse/cases");
        let cases = load_cases(&dir).unwrap();
        for (name, _, c) in &cases {
            assert!(c.is_ok(), "{name}: {:?}", c.as_ref().err());
        }
    }
}
