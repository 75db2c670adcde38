// SPDX-License-Identifier: GPL-2.0
//! Bad configuration gets a clear message: the set-up scripts run against
//! broken inputs and must name what is wrong.

use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmtest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A tiny stand-in for a Linux 7.3 tree.
fn fake_kernel(dir: &Path) {
    std::fs::create_dir_all(dir.join("rust/kernel")).unwrap();
    std::fs::write(dir.join("Makefile"), "VERSION = 7\nPATCHLEVEL = 3\n").unwrap();
    std::fs::write(dir.join("rust/kernel/lib.rs"), "pub mod a;\n").unwrap();
}

fn prepare(repo: &Path, pristine: &Path, tree: &Path) -> Output {
    Command::new("bash")
        .arg(tools().join("prepare-tree.sh"))
        .args([repo, pristine, tree])
        .output()
        .unwrap()
}

#[test]
fn missing_kernel_source_is_named() {
    let d = tmp("nosrc");
    let o = prepare(&d, &d.join("nope"), &d.join("tree"));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("is not a Linux source tree") && e.contains("KSRC"),
        "{e}"
    );
}

#[test]
fn patch_that_does_not_apply_is_named() {
    let d = tmp("badpatch");
    let (repo, src, tree) = (d.join("repo"), d.join("src"), d.join("tree"));
    fake_kernel(&src);
    std::fs::create_dir_all(repo.join("patches")).unwrap();
    std::fs::write(
        repo.join("patches/0001-bad.patch"),
        "--- a/rust/kernel/lib.rs\n+++ b/rust/kernel/lib.rs\n@@ -1 +1,2 @@\n pub mod zzz;\n+pub mod b;\n",
    )
    .unwrap();
    let o = prepare(&repo, &src, &tree);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("patch 0001-bad.patch does not apply"), "{e}");
    assert!(!tree.exists(), "a half-patched tree was left behind");
}

#[test]
fn patches_apply_in_order_without_touching_the_pristine_source() {
    let d = tmp("goodpatch");
    let (repo, src, tree) = (d.join("repo"), d.join("src"), d.join("tree"));
    fake_kernel(&src);
    std::fs::create_dir_all(repo.join("patches")).unwrap();
    std::fs::create_dir_all(repo.join("drivers/x")).unwrap();
    std::fs::write(repo.join("drivers/x/x.rs"), "// ours\n").unwrap();
    std::fs::write(
        repo.join("patches/0001-a.patch"),
        "--- a/rust/kernel/lib.rs\n+++ b/rust/kernel/lib.rs\n@@ -1 +1,2 @@\n pub mod a;\n+pub mod b;\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("patches/0002-b.patch"),
        "--- a/rust/kernel/lib.rs\n+++ b/rust/kernel/lib.rs\n@@ -1,2 +1,3 @@\n pub mod a;\n pub mod b;\n+pub mod c;\n",
    )
    .unwrap();
    let o = prepare(&repo, &src, &tree);
    assert!(o.status.success(), "{}", stderr(&o));
    let lib = std::fs::read_to_string(tree.join("rust/kernel/lib.rs")).unwrap();
    assert_eq!(lib, "pub mod a;\npub mod b;\npub mod c;\n");
    assert_eq!(
        std::fs::read_to_string(src.join("rust/kernel/lib.rs")).unwrap(),
        "pub mod a;\n"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("drivers/x/x.rs")).unwrap(),
        "// ours\n"
    );
    // Untouched files stay hard links to the pristine source.
    let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
    assert_eq!(ino(&src.join("Makefile")), ino(&tree.join("Makefile")));
    // A second run with nothing changed rewrites nothing.
    let mtime = std::fs::metadata(tree.join("drivers/x/x.rs"))
        .unwrap()
        .modified()
        .unwrap();
    let o = prepare(&repo, &src, &tree);
    assert!(o.status.success());
    assert_eq!(
        std::fs::metadata(tree.join("drivers/x/x.rs"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

#[test]
fn missing_tool_is_named() {
    let d = tmp("notool");
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for t in ["bash", "sort", "tr", "grep", "id", "dirname", "cat"] {
        let p = Command::new("bash")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&p.stdout).trim().to_string();
        symlink(path, bin.join(t)).unwrap();
    }
    let o = Command::new(bin.join("bash"))
        .arg(tools().join("setup.sh"))
        .arg("--check")
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("setup: error: missing:") && e.contains("clang-19") && e.contains("make setup"),
        "{e}"
    );
}

/// A repository of ours for tools/series.py, made of `files` (path, contents), under git.
fn series_repo(repo: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let o = Command::new("git")
        .args(["init", "-q"])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

fn series(args: &[&Path]) -> Output {
    Command::new("python3")
        .arg(tools().join("series.py"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn series_names_a_file_in_no_patch() {
    let d = tmp("series-orphan");
    let repo = d.join("repo");
    series_repo(
        &repo,
        &[
            ("patches/series", "0001-a.patch\n\tdrivers/x/x.rs\n"),
            (
                "patches/0001-a.patch",
                "Subject: x: add x\n\nX is needed.\n---\n",
            ),
            ("drivers/x/x.rs", "// x\n"),
            ("drivers/x/y.rs", "// y\n"),
        ],
    );
    let o = series(&[Path::new("check-manifest"), &repo]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("drivers/x/y.rs is in no patch"), "{e}");
}

#[test]
fn series_declares_a_submodule_with_the_patch_that_adds_it() {
    let d = tmp("series-mod");
    let (repo, src, work, out) = (d.join("repo"), d.join("src"), d.join("work"), d.join("out"));
    fake_kernel(&src);
    series_repo(
        &repo,
        &[
            (
                "patches/series",
                "0001-b.patch\n\trust/kernel/b.rs\n\n0002-c.patch\n\trust/kernel/b/\n",
            ),
            (
                "patches/0001-b.patch",
                "Subject: rust: add b\n\nB is needed.\n---\n--- a/rust/kernel/lib.rs\n\
                 +++ b/rust/kernel/lib.rs\n@@ -1 +1,2 @@\n pub mod a;\n+pub mod b;\n",
            ),
            (
                "patches/0002-c.patch",
                "Subject: rust: b: add c\n\nC is needed.\n---\n",
            ),
            ("patches/cover-letter.txt", "b and c\n\nThey are needed.\n"),
            ("rust/kernel/b.rs", "//! B.\n\n/// C.\npub mod c;\n"),
            ("rust/kernel/b/c.rs", "//! C.\n"),
        ],
    );
    let o = series(&[Path::new("generate"), &repo, &src, &work, &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let first = read("0001-rust-add-b.patch");
    assert!(
        first.contains("+pub mod b;") && !first.contains("mod c;"),
        "{first}"
    );
    assert!(!first.contains("Signed-off-by"), "{first}");
    assert!(read("0002-rust-b-add-c.patch").contains("+/// C.\n+pub mod c;\n"));
    assert!(read("0000-cover-letter.patch").contains("Subject: [PATCH 0/2] b and c"));
    // The pristine source is copied, never changed.
    assert_eq!(
        std::fs::read_to_string(src.join("rust/kernel/lib.rs")).unwrap(),
        "pub mod a;\n"
    );
}
