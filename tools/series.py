#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The project as a `git format-patch` series against Linux 7.3.

patches/series (the manifest) says, patch by patch, which file of patches/ holds the
subject, the description and the changes to upstream files, and which of this
repository's files the patch introduces. Nothing else describes the series: this script
builds it from those files and the pristine source.

  series.py generate REPO PRISTINE WORK OUTDIR
      Commits the series, step by step, in a throw-away git repository WORK/linux (a copy
      of the pristine source, made once and reused while the source stays the same), and
      writes it with `git format-patch --cover-letter` to OUTDIR.

  series.py verify REPO PRISTINE WORK OUTDIR TREE
      Generates, then proves: the patches apply with `git am` to the pristine source
      (series.apply), the result is the tree `make tree` built, TREE (series.identity),
      every file it adds falls under a MAINTAINERS entry (series.maintainers), and
      scripts/checkpatch.pl --strict passes every patch (series.checkpatch). One
      PASS/FAIL line each, the format `vmtest summary` adds up.

  series.py build REPO PRISTINE WORK OUTDIR ARCH FRAGMENT...
      Generates, then builds every patch that touches Rust, in order, in a git worktree
      WORK/build-src with output in WORK/build: `prepare`, `rust/`, and the driver and
      sample directories once they exist, configured as allnoconfig plus FRAGMENTs.
      One PASS/FAIL line per patch (series.build.NNNN) with its time.

The committer and author of the series are SERIES_AUTHOR ("Name <email>"; default
below), dated by the last commit of REPO, so the same repository gives the same series.
No Signed-off-by is added: that is for whoever sends the series.
"""

import os
import re
import shutil
import subprocess
import sys
import time

OVERLAY_DIRS = ["drivers", "rust", "samples", "Documentation"]
DEFAULT_AUTHOR = "rbochs developers <rbochs@localhost>"
# checkpatch checks the series skips, and why:
# MISSING_SIGN_OFF  the Signed-off-by is the sender's to add (see the cover letter);
# FILE_PATH_CHANGES "does MAINTAINERS need updating?", asked of every patch that adds a
#                   file: series.maintainers answers it, checking that get_maintainer.pl
#                   finds an entry for every new file (the driver's own entry needs the name
#                   of its maintainer: see the cover letter).
CHECKPATCH_IGNORE = "MISSING_SIGN_OFF,FILE_PATH_CHANGES"


class SeriesError(Exception):
    pass


def die(msg):
    print(f"series: error: {msg}", file=sys.stderr)
    sys.exit(1)


def git(repo, *args, env=None, input=None, check=True):
    """Runs git in `repo` and returns its standard output (bytes)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(["git", "-C", repo, *args], env=full_env, input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise SeriesError(f"git {' '.join(args)} in {repo} failed:\n"
                          + p.stderr.decode(errors="replace"))
    return p.stdout


# The manifest and the patch files.

class Patch:
    def __init__(self, name, lineno):
        self.name = name            # file name in patches/
        self.lineno = lineno        # line of the manifest
        self.patterns = []          # (pattern, line) of the files it introduces
        self.files = []             # overlay files it introduces
        self.subject = ""
        self.body = ""
        self.diff = ""


def read_manifest(repo):
    path = os.path.join(repo, "patches", "series")
    if not os.path.exists(path):
        raise SeriesError(f"{path}: no manifest")
    patches = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            text = line.rstrip("\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            if not text[0].isspace():
                patches.append(Patch(text.strip(), n))
            elif not patches:
                raise SeriesError(f"{path}:{n}: a file before the first patch")
            else:
                patches[-1].patterns.append((text.strip(), n))
    return patches


def pattern_matches(pattern, path):
    if pattern.endswith("/"):
        return path.startswith(pattern)
    rx = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
                 for c in pattern)
    return re.fullmatch(rx, path) is not None


def overlay_files(repo):
    """The files prepare-tree.sh lays over the source: tracked or not, but not ignored."""
    out = git(repo, "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--",
              *OVERLAY_DIRS)
    files = sorted({f for f in out.decode().split("\0") if f})
    return [f for f in files if os.path.isfile(os.path.join(repo, f))]


def parse_patch_file(repo, patch):
    path = os.path.join(repo, "patches", patch.name)
    with open(path) as f:
        text = f.read()
    lines = text.split("\n")
    if not lines[0].startswith("Subject: ") or not lines[0][9:].strip():
        raise SeriesError(f"{path}: the first line must be 'Subject: <subject>'")
    if "[PATCH" in lines[0]:
        raise SeriesError(f"{path}: no [PATCH] in the subject; format-patch adds it")
    patch.subject = lines[0][9:].strip()
    try:
        sep = lines.index("---")
    except ValueError:
        raise SeriesError(f"{path}: no '---' line after the description")
    body = "\n".join(lines[1:sep]).strip("\n")
    if not body:
        raise SeriesError(f"{path}: the description says nothing")
    if re.search(r"(?mi)^signed-off-by:", body):
        raise SeriesError(f"{path}: no Signed-off-by in the description; the sender adds it")
    patch.body = body + "\n"
    patch.diff = "\n".join(lines[sep + 1:])
    if patch.diff.strip() and not re.search(r"(?m)^@@ ", patch.diff):
        raise SeriesError(f"{path}: text after '---' that is not a diff")


def load(repo):
    """Reads and checks the manifest: every overlay file in exactly one patch."""
    patches = read_manifest(repo)
    errors = []
    names = [p.name for p in patches]
    on_disk = sorted(os.path.basename(p) for p in os.listdir(os.path.join(repo, "patches"))
                     if p.endswith(".patch"))
    for n in names:
        if n not in on_disk:
            errors.append(f"patches/series names {n}, which is not in patches/")
    for n in on_disk:
        if n not in names:
            errors.append(f"patches/{n} is in no stanza of patches/series")
    if len(set(names)) != len(names):
        errors.append("patches/series names a patch twice")
    if names != sorted(names):
        errors.append("patches/series is not in file-name order, the order prepare-tree.sh "
                      "applies patches/ in")
    files = overlay_files(repo)
    owner = {}
    for p in patches:
        for pat, n in p.patterns:
            hits = [f for f in files if pattern_matches(pat, f)]
            if not hits:
                errors.append(f"patches/series:{n}: '{pat}' matches no file")
            for f in hits:
                if f in owner:
                    errors.append(f"{f} is introduced by {owner[f].name} and by {p.name}")
                else:
                    owner[f] = p
                    p.files.append(f)
    for f in files:
        if f not in owner:
            errors.append(f"{f} is in no patch: add it to a stanza of patches/series")
    for p in patches:
        if p.name in on_disk:
            try:
                parse_patch_file(repo, p)
            except SeriesError as e:
                errors.append(str(e))
    if errors:
        raise SeriesError("patches/series:\n  " + "\n  ".join(errors))
    return patches, files


# Files that grow: `mod x;` lines whose file a later patch introduces.

MOD_RE = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;\s*$")


def staged_content(path, data, present, overlay):
    """The contents of overlay file `path` at a step where the files `present` exist."""
    if not path.endswith(".rs"):
        return data
    base = os.path.basename(path)
    mod_dir = os.path.dirname(path) if base in ("mod.rs", "lib.rs") else path[:-3]
    out = []
    for line in data.decode().split("\n"):
        m = MOD_RE.match(line)
        if m:
            name = m.group(3)
            later = [c for c in (f"{mod_dir}/{name}.rs", f"{mod_dir}/{name}/mod.rs")
                     if c in overlay and c not in present]
            if later:
                while out and re.match(r"^\s*(#\[.*\]|///.*)\s*$", out[-1]):
                    out.pop()
                continue
        out.append(line)
    return "\n".join(out).encode()


# The throw-away repository.

def pristine_id(pristine):
    st = os.stat(os.path.join(pristine, "Makefile"))
    return f"{os.path.realpath(pristine)} {st.st_ino} {int(st.st_mtime)}\n"


BASE_ENV = {
    "GIT_AUTHOR_NAME": "Linux 7.3", "GIT_AUTHOR_EMAIL": "pristine@localhost",
    "GIT_COMMITTER_NAME": "Linux 7.3", "GIT_COMMITTER_EMAIL": "pristine@localhost",
    "GIT_AUTHOR_DATE": "@0 +0000", "GIT_COMMITTER_DATE": "@0 +0000",
}


def ensure_base(pristine, work):
    """WORK/linux: a git repository of the pristine source, its first commit tagged v7.3."""
    linux = os.path.join(work, "linux")
    stamp = os.path.join(linux, ".git", "rbochs-pristine")
    want = pristine_id(pristine)
    try:
        with open(stamp) as f:
            if f.read() == want:
                return linux
    except OSError:
        pass
    print(f"series: making a git repository of {pristine} in {linux} (once)", file=sys.stderr)
    new = linux + ".new"
    shutil.rmtree(new, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    # A copy, not hard links: git am and checkouts rewrite files in it.
    subprocess.run(["cp", "-a", pristine, new], check=True)
    # A KSRC that is a git checkout brings its own repository; start from the files alone.
    shutil.rmtree(os.path.join(new, ".git"), ignore_errors=True)
    git(new, "init", "-q")
    git(new, "config", "core.autocrlf", "false")
    git(new, "config", "gc.auto", "0")
    # -f: Debian's linux-source ignores its whole top level in .gitignore.
    git(new, "add", "-A", "-f")
    git(new, "commit", "-q", "--no-verify", "-m", "Linux 7.3", env=BASE_ENV)
    git(new, "tag", "v7.3")
    with open(os.path.join(new, ".git", "rbochs-pristine"), "w") as f:
        f.write(want)
    # Worktrees of an older copy would point into the removed repository.
    shutil.rmtree(os.path.join(work, "build-src"), ignore_errors=True)
    shutil.rmtree(linux, ignore_errors=True)
    os.rename(new, linux)
    return linux


def author_env(repo):
    author = os.environ.get("SERIES_AUTHOR") or DEFAULT_AUTHOR
    m = re.fullmatch(r"\s*(.+?)\s*<([^>]+)>\s*", author)
    if not m:
        raise SeriesError(f"SERIES_AUTHOR='{author}' is not 'Name <email>'")
    date = git(repo, "log", "-1", "--format=%ad", "--date=raw", check=False).decode().strip()
    date = date or "@0 +0000"
    if not date.startswith("@"):
        date = "@" + date
    return {
        "GIT_AUTHOR_NAME": m.group(1), "GIT_AUTHOR_EMAIL": m.group(2),
        "GIT_COMMITTER_NAME": m.group(1), "GIT_COMMITTER_EMAIL": m.group(2),
        "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
    }


def generate(repo, pristine, work, outdir):
    """Commits the series on branch `series` of WORK/linux and writes it to OUTDIR.

    Returns the repository and the commits, one per patch."""
    patches, overlay = load(repo)
    linux = ensure_base(pristine, work)
    env = author_env(repo)
    # The series is built in an index of its own; the work tree is never touched here.
    index = os.path.join(work, "index.series")
    if os.path.exists(index):
        os.unlink(index)
    ienv = {"GIT_INDEX_FILE": index}
    git(linux, "read-tree", "v7.3", env=ienv)
    contents = {}
    for f in overlay:
        with open(os.path.join(repo, f), "rb") as fh:
            contents[f] = fh.read()
    overlay_set = set(overlay)
    present = set()
    staged = {}
    parent = git(linux, "rev-parse", "v7.3^{commit}").decode().strip()
    commits = []
    for p in patches:
        if p.diff.strip():
            r = subprocess.run(["git", "-C", linux, "apply", "--cached", "--whitespace=nowarn"],
                               input=p.diff.encode(), env={**os.environ, **ienv},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode != 0:
                raise SeriesError(f"patches/{p.name}: its diff does not apply after the "
                                  f"patches before it:\n{r.stderr.decode(errors='replace')}")
        present.update(p.files)
        for f in sorted(present):
            data = staged_content(f, contents[f], present, overlay_set)
            if staged.get(f) == data:
                continue
            sha = git(linux, "hash-object", "-w", "--stdin", input=data).decode().strip()
            mode = "100755" if os.stat(os.path.join(repo, f)).st_mode & 0o111 else "100644"
            git(linux, "update-index", "--add", "--cacheinfo", f"{mode},{sha},{f}", env=ienv)
            staged[f] = data
        tree = git(linux, "write-tree", env=ienv).decode().strip()
        msg = f"{p.subject}\n\n{p.body}"
        parent = git(linux, "commit-tree", tree, "-p", parent, "-F", "-", input=msg.encode(),
                     env=env).decode().strip()
        commits.append(parent)
    for f in overlay:
        if staged[f] != contents[f]:
            raise SeriesError(f"{f}: the last patch does not give the repository's file")
    git(linux, "update-ref", "refs/heads/series", parent)
    with open(os.path.join(repo, "patches", "cover-letter.txt")) as f:
        cover = f.read()
    git(linux, "config", "branch.series.description", cover)
    os.makedirs(outdir, exist_ok=True)
    for old in os.listdir(outdir):
        if old.endswith(".patch"):
            os.unlink(os.path.join(outdir, old))
    git(linux, "format-patch", "-q", "--cover-letter", "--cover-from-description=subject",
        "--no-signature", "-o", outdir, "v7.3..series", env=env)
    return linux, patches, commits


def series_files(outdir):
    files = sorted(f for f in os.listdir(outdir) if f.endswith(".patch"))
    return [os.path.join(outdir, f) for f in files if not f.startswith("0000-")]


# Proof: apply, identity, checkpatch.

def verify(repo, pristine, work, outdir, tree):
    # A KSRC that already carries the series (README, "Use rbochs in your kernel") is no
    # base to apply it to; make tree then checks that it matches this repository.
    if os.path.exists(os.path.join(pristine, "drivers/gpu/drm/rbochs/Kconfig")):
        print(f"SKIP series.verify: {pristine} already carries the series")
        return True
    linux, patches, _ = generate(repo, pristine, work, outdir)
    ok = True
    files = series_files(outdir)

    def report(name, passed, why="", detail=""):
        nonlocal ok
        if passed:
            print(f"PASS series.{name}")
        else:
            ok = False
            print(f"FAIL series.{name}: {why}")
            for line in detail.rstrip().split("\n")[:40]:
                if line:
                    print(f"    | {line}")

    # Apply to a clean checkout of the pristine source, as a maintainer would.
    git(linux, "checkout", "-q", "-f", "--detach", "v7.3")
    git(linux, "clean", "-q", "-fdx")
    am_env = dict(BASE_ENV)
    am_env.pop("GIT_AUTHOR_NAME"), am_env.pop("GIT_AUTHOR_EMAIL"), am_env.pop("GIT_AUTHOR_DATE")
    r = subprocess.run(["git", "-C", linux, "am", "-q", *files],
                       env={**os.environ, **am_env}, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    applied = r.returncode == 0
    report("apply", applied, f"git am of {outdir} onto Linux 7.3 failed",
           r.stdout.decode(errors="replace"))
    if applied:
        n = len(git(linux, "rev-list", "v7.3..HEAD").split())
        if n != len(patches):
            applied = False
            report("apply", False, f"git am made {n} commits of {len(patches)} patches")
    else:
        git(linux, "am", "--abort", check=False)

    # The result is the tree make tree builds, file for file.
    if applied:
        r = subprocess.run(["diff", "-r", "-q", "--no-dereference", "--exclude=.git",
                            "--exclude=.rbochs-series", linux, tree],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        report("identity", r.returncode == 0,
               f"the series applied to Linux 7.3 differs from {tree} (make tree)",
               r.stdout.decode(errors="replace"))
    else:
        report("identity", False, "nothing to compare: the series did not apply")

    # Every file the series adds has someone to review it: an entry of MAINTAINERS other
    # than THE REST (what checkpatch's FILE_PATH_CHANGES asks).
    if applied:
        added = git(linux, "diff", "--name-only", "--diff-filter=A", "v7.3", "HEAD").decode()
        orphans = ""
        for f in added.split():
            r = subprocess.run(["perl", "scripts/get_maintainer.pl", "--no-git",
                                "--no-git-fallback", "--sections", "-f", f], cwd=linux,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            sections = [ln for ln in r.stdout.decode(errors="replace").split("\n")
                        if re.match(r"^[A-Z0-9]", ln) and ln != "THE REST"]
            if r.returncode != 0 or not sections:
                orphans += f"{f}\n"
        report("maintainers", not orphans, "files no MAINTAINERS entry covers", orphans)
    else:
        report("maintainers", False, "nothing to look at: the series did not apply")

    # checkpatch, the tree's own, run from the tree as lint.sh runs it.
    bad = ""
    for f in files:
        r = subprocess.run(["perl", "scripts/checkpatch.pl", "--no-tree", "--quiet", "--strict",
                            "--ignore", CHECKPATCH_IGNORE, f], cwd=linux,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            bad += f"{os.path.basename(f)}:\n{r.stdout.decode(errors='replace')}\n"
    report("checkpatch", not bad, "checkpatch.pl --strict complains", bad)

    git(linux, "checkout", "-q", "-f", "--detach", "v7.3")
    git(linux, "clean", "-q", "-fdx")
    return ok


# Every patch that touches Rust builds.

def build(repo, pristine, work, outdir, arch, frags):
    linux, patches, commits = generate(repo, pristine, work, outdir)
    src = os.path.join(work, "build-src")
    out = os.path.join(work, "build")
    if not os.path.isdir(src):
        git(linux, "worktree", "prune")
        git(linux, "worktree", "add", "-q", "--detach", src, "v7.3")
    os.makedirs(out, exist_ok=True)
    frag = os.path.join(out, "series-fragments.config")
    with open(frag, "w") as f:
        for fr in frags:
            with open(fr) as fh:
                f.write(fh.read())
        # The KMS abstractions have no prompt; enable them from the patch that adds them,
        # before their first user (see kconfig_prompt below).
        f.write("CONFIG_RUST_DRM_KMS=y\n")
    llvm = os.environ.get("LLVM", "-19")
    jobs = os.environ.get("JOBS") or str(os.cpu_count() or 1)
    kmake = ["make", "-s", "-C", src, f"O={out}", f"ARCH={arch}", f"LLVM={llvm}", f"-j{jobs}"]
    log = os.path.join(out, "series-build.log")
    ok = True
    t_all = time.time()
    with open(log, "w") as logf:
        for p, c in zip(patches, commits):
            num = p.name[:4]
            touched = git(linux, "diff", "--name-only", f"{c}~1", c).decode().split()
            if not any(f.endswith(".rs") or f.startswith("rust/") for f in touched):
                print(f"series: {p.name}: touches no Rust, not built", flush=True)
                continue
            t0 = time.time()
            git(src, "checkout", "-q", "-f", "--detach", c)
            git(src, "clean", "-q", "-fd")
            kconfig_prompt(src)
            logf.write(f"==== {p.name} ({c})\n")
            logf.flush()
            steps = [kmake + [f"KCONFIG_ALLCONFIG={frag}", "allnoconfig"], kmake + ["prepare"]]
            targets = ["rust/"]
            for d in ("drivers/gpu/drm/rbochs/", "samples/rust/"):
                if git(linux, "ls-tree", "--name-only", c, "--", d).strip():
                    targets.append(d)
            steps.append(kmake + targets)
            failed = None
            for s in steps:
                r = subprocess.run(s, stdout=logf, stderr=subprocess.STDOUT,
                                   env={**os.environ, "LIBCLANG_PATH": os.environ.get(
                                       "LIBCLANG_PATH", "/usr/lib/llvm-19/lib")})
                if r.returncode != 0:
                    failed = " ".join(s[len(kmake):])
                    break
            dt = int(time.time() - t0)
            if failed is None:
                print(f"PASS series.build.{num} ({dt}s: {' '.join(targets)})", flush=True)
            else:
                ok = False
                print(f"FAIL series.build.{num}: make {failed} failed after {dt}s "
                      f"({p.subject}); log: {log}", flush=True)
    git(src, "checkout", "-q", "-f", "--detach", "v7.3")
    print(f"series: per-patch builds took {int(time.time() - t_all)}s", flush=True)
    return ok


def kconfig_prompt(src):
    """Gives RUST_DRM_KMS a prompt in the build's checkout, so that allnoconfig can turn it
    on in the patches that add the abstractions before any driver selects them: otherwise
    those patches would build nothing of what they add. Only the build checkout changes."""
    path = os.path.join(src, "drivers", "gpu", "drm", "Kconfig")
    with open(path) as f:
        text = f.read()
    new = text.replace("config RUST_DRM_KMS\n\tbool\n",
                       "config RUST_DRM_KMS\n\tbool \"Rust KMS abstractions (series build)\"\n")
    if new != text:
        os.unlink(path)
        with open(path, "w") as f:
            f.write(new)


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "generate" and len(args) == 4:
            repo, pristine, work, outdir = args
            _, patches, _ = generate(os.path.realpath(repo), pristine, work, outdir)
            print(f"series: {len(patches)} patches and a cover letter in {outdir}")
            return 0
        if cmd == "verify" and len(args) == 5:
            try:
                return 0 if verify(os.path.realpath(args[0]), *args[1:]) else 1
            except SeriesError as e:
                # A line for the summary too: a broken manifest fails the series checks.
                print(f"FAIL series.generate: {str(e).splitlines()[0]}")
                raise
        if cmd == "build" and len(args) >= 6:
            return 0 if build(os.path.realpath(args[0]), *args[1:5], args[5:]) else 1
        if cmd == "check-manifest" and len(args) == 1:
            load(os.path.realpath(args[0]))
            return 0
    except SeriesError as e:
        die(str(e))
    die(f"bad arguments\n{__doc__}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
