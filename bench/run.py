#!/usr/bin/env python3
"""mkimg against its peers: one command that prepares inputs, runs every scenario with mkimg,
buildah and Docker's BuildKit side by side (alternating, several runs each) and prints medians,
the ratio mkimg/peer, the physical floor where one applies, and mkimg's peak memory.

Usage (as root): bench/run.py [--runs 3] [--scenarios 1,2,3,4,5,6,7]
    [--tools mkimg,mkimg-rootless,buildah,docker] [--scale 10000,50000,100000] [--large-mb 1024]
Inputs are cached under /var/cache/mkimg-bench (a debootstrap minbase root, generated contexts).
Scenarios 8 (a scale series of contexts of N small files: cold, no-op, one file changed, with
the growth factor of each tool) and 9 (a RUN writing ~1 GB in ~50,000 files, and a one-line RUN
on a ~2 GB base) are not in the default list: they take tens of minutes at full size. A smoke
run: --scenarios 8,9 --scale 1000,5000 --large-mb 100.
MKIMG_BENCH_BINARY overrides the mkimg measured (default: build/mkimg).
Scenario 7 (a fresh CI runner with its cache in a loopback registry) also counts the bytes
each build moves through that registry, from the registry's own log.
It never asserts a timing; a peer that cannot run is reported as missing, never faked.
"""
import argparse
import hashlib
import json
import os
import pwd
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
CACHE = os.environ.get("MKIMG_BENCH_CACHE", "/var/cache/mkimg-bench")
MKIMG = os.environ.get("MKIMG_BENCH_BINARY", os.path.join(SOURCE, "build", "mkimg"))


def as_user(user):
    """subprocess arguments that start a command as `user` ((uid, gid), no supplementary
    groups; None: as this process): the switch is made in the child between fork and exec, so
    no launcher is timed with the command (setpriv costs an exec, about 8 ms here)."""
    return {} if user is None else {"user": user[0], "group": user[1], "extra_groups": []}


def sh(cmd, check=True, quiet=True, env=None, cwd=None, user=None):
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, stdout=out,
                          stderr=subprocess.PIPE if quiet else None, env=env, cwd=cwd,
                          **as_user(user))


class Failed(Exception):
    """A measured command failed: reported in the table, never hidden."""


TIMED = None  # bench/timed.c, compiled by compile_timed()
WALK = None  # bench/walk.c, likewise


def compile_timed(work):
    """bench/timed.c built static into the work directory: the launcher of every measured
    command (its clock starts at its fork, so its own start is not timed); and bench/walk.c,
    the stat floor of a context."""
    global TIMED, WALK
    TIMED = os.path.join(work, "timed")
    sh(["cc", "-O2", "-static", "-o", TIMED, os.path.join(HERE, "timed.c")])
    WALK = os.path.join(work, "walk")
    sh(["cc", "-O2", "-pthread", "-o", WALK, os.path.join(HERE, "walk.c")])


def timed(cmd, env=None, cwd=None, user=None):
    """Runs cmd through bench/timed.c, returns (seconds, peak RSS in MiB of the largest process
    of the tree): the helper's last stderr line, so the command's own stderr cannot be mistaken
    for it."""
    proc = subprocess.run([TIMED] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=env, cwd=cwd, text=True, **as_user(user))
    lines = proc.stderr.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith("timed "):
        raise Failed("exit %d: %s\n%s" % (proc.returncode, " ".join(cmd),
                                            "\n".join(lines[-15:])))
    _, seconds, kib = lines[-1].split()
    return float(seconds), int(kib) / 1024.0


# ---------------------------------------------------------------- inputs

def debian_root():
    root = os.path.join(CACHE, "bookworm")  # shared with bench/bench_snapshot
    tar = os.path.join(CACHE, "minbase.tar")
    if not os.path.exists(tar):
        os.makedirs(CACHE, exist_ok=True)
        if not os.path.isdir(os.path.join(root, "usr")):
            shutil.rmtree(root, ignore_errors=True)
            print("bench: debootstrap --variant=minbase bookworm (once, cached in %s)" % CACHE)
            sh(["debootstrap", "--variant=minbase", "bookworm", root])
        sh("tar -C %s --numeric-owner -cf %s.tmp . && mv %s.tmp %s" % (root, tar, tar, tar))
    return root, tar


def write_tree(path, files, total_bytes, seed, large=0):
    """A deterministic tree of `files` files (plus `large` big ones) holding ~total_bytes."""
    if os.path.isdir(path):
        return path
    rng = random.Random(seed)
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    small_bytes = total_bytes // 2 if large else total_bytes
    size = max(1, small_bytes // max(files, 1))
    for i in range(files):
        d = os.path.join(tmp, "d%02d" % (i % 50), "s%02d" % (i % 7))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
            # Half compressible text, half random bytes: like real source trees and assets.
            f.write((("line %d of file %d\n" % (i, i)) * (size // 40 + 1)).encode()[: size // 2])
            f.write(rng.randbytes(size - size // 2))
    for i in range(large):
        os.makedirs(os.path.join(tmp, "big"), exist_ok=True)
        with open(os.path.join(tmp, "big", "blob%02d.bin" % i), "wb") as f:
            chunk = rng.randbytes(1 << 20)
            for _ in range((total_bytes - small_bytes) // large // (1 << 20)):
                f.write(chunk[:512 * 1024] + bytes(512 * 1024))
    os.rename(tmp, path)
    return path


def write_small_files(path, files, seed):
    """Scenario 8's context: PATH/data/dNNN/fNNNN, `files` files of 50-249 bytes, 1,000 per
    directory (the layout issue #18 measured). Deterministic; written with os.open/os.write,
    one directory made per 1,000 files: 100,000 files take seconds, not minutes."""
    if os.path.isdir(path):
        return path
    rng = random.Random(seed)
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    directory = None
    for i in range(files):
        if i % 1000 == 0:
            directory = os.path.join(tmp, "data", "d%03d" % (i // 1000))
            os.makedirs(directory)
        size = 50 + rng.randrange(200)
        line = b"file %d of %d\n" % (i, files)
        fd = os.open(os.path.join(directory, "f%04d" % (i % 1000)), flags, 0o644)
        try:
            os.write(fd, (line * (size // len(line) + 1))[:size])
        finally:
            os.close(fd)
    os.rename(tmp, path)
    return path


def busybox_root(path):
    """A root like the busybox image's: a static /bin/busybox with a symlink per applet (the
    shell finds `ls`, `wc`, `tar` through them), empty /etc /tmp /root and mount points. The
    base of scenarios 8 and 9, the same tar imported into every tool."""
    if os.path.isdir(path):
        return path
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev"):
        os.makedirs(os.path.join(tmp, d))
    os.chmod(os.path.join(tmp, "tmp"), 0o1777)
    shutil.copy("/bin/busybox", os.path.join(tmp, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", os.path.join(tmp, "bin", applet))
    os.rename(tmp, path)
    return path


def tar_of(tar, *parts):
    """A deterministic tar of DIR (or of NAME in DIR): parts are (dir, member) pairs."""
    if os.path.exists(tar):
        return tar
    cmd = ["tar", "--sort=name", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@0",
           "-cf", tar + ".tmp"]
    for directory, member in parts:
        cmd += ["-C", directory, member]
    sh(cmd)
    os.rename(tar + ".tmp", tar)
    return tar


def large_inputs(mb):
    """Scenario 9's inputs, cached per size: src.tar (MB megabytes in ~50,000 files per GiB,
    ~20 KiB each, half text, half random), a busybox image holding it as /src.tar, and a base
    root of 2*MB megabytes (busybox and /data: ~100 KiB files, 10 per MB) with its tar."""
    top = os.path.join(CACHE, "large-%dM" % mb)
    os.makedirs(top, exist_ok=True)
    src_tar = os.path.join(top, "src.tar")
    if not os.path.exists(src_tar):
        print("bench: generating scenario 9's %d MB tree (once, cached in %s)" % (mb, top),
              flush=True)
        tree = os.path.join(top, "src-tree")
        shutil.rmtree(tree, ignore_errors=True)
        write_tree(tree, max(1, 50000 * mb // 1024), mb << 20, seed=9)
        tar_of(src_tar, (tree, "."))
        shutil.rmtree(tree)
    bb = busybox_root(os.path.join(top, "busybox-root"))
    src_image = tar_of(os.path.join(top, "src-image.tar"), (bb, "."), (top, "src.tar"))
    base_root = os.path.join(top, "base-root")
    if not os.path.isdir(base_root):
        print("bench: generating scenario 9's %d MB base (once, cached in %s)" % (2 * mb, top),
              flush=True)
        tmp = base_root + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(bb, tmp, symlinks=True)
        write_tree(os.path.join(tmp, "data"), max(1, 20 * mb), (2 * mb) << 20, seed=10)
        os.rename(tmp, base_root)
    base_tar = tar_of(os.path.join(top, "base.tar"), (base_root, "."))
    return src_tar, src_image, base_root, base_tar


# ---------------------------------------------------------------- tools

class Tool:
    name = "?"

    def available(self):
        return True

    def load_base(self, tar):
        pass

    def add_image(self, tar, name):
        """Imports one more base image (scenarios 8 and 9), kept by reset()."""
        raise NotImplementedError

    def build(self, context, dockerfile, tag, no_cache=False):
        raise NotImplementedError

    def reset(self):
        """Forget every build cache (the base stays)."""

    def stop(self):
        """Release what available() started."""


def tiny_root(work):
    """A busybox root of ~2 MB: scenario 4 on it shows whether a RUN's cost grows with the size
    of the root it runs on."""
    tiny = os.path.join(work, "tiny-root")
    if not os.path.isdir(tiny):
        os.makedirs(os.path.join(tiny, "bin"))
        os.makedirs(os.path.join(tiny, "etc"))
        shutil.copy("/bin/busybox", os.path.join(tiny, "bin", "busybox"))
        os.symlink("busybox", os.path.join(tiny, "bin", "sh"))
    return tiny


class Mkimg(Tool):
    name = "mkimg"

    def __init__(self, work):
        self.root = os.path.join(work, "mkimg-store")
        self.base_tar = None
        self.images = []  # [(root directory or tar, name)]: what reset() imports again
        # How mkimg is started: the binary, as `user` (None: as root; mkimg-rootless sets its
        # user, switched to in the child before exec, so neither pays a launcher).
        self.prefix = [MKIMG]
        self.user = None

    def mkimg(self, *args):
        return self.prefix + ["--root", self.root] + list(args)

    def sh(self, *args):
        return sh(self.mkimg(*args), user=self.user)

    def available(self):
        return os.access(MKIMG, os.X_OK) and subprocess.run(
            [MKIMG, "build", "--help"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0

    def load_base(self, tar):
        self.base_tar = tar
        self.images = [(tar, "bench-base:latest"),
                       (tiny_root(os.path.dirname(self.root)), "bench-tiny:latest")]
        self.reset()

    def add_image(self, tar, name):
        self.sh("import", tar, name)
        self.images.append((tar, name))

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = self.mkimg("build", "--progress", "quiet", "-f", dockerfile, "-t", tag, context)
        if no_cache:
            cmd.insert(cmd.index("build") + 1, "--no-cache")
        return timed(cmd, user=self.user)

    def reset(self):
        """A new store holding only the base images, as imported (imported bases are left
        unpacked)."""
        shutil.rmtree(self.root, ignore_errors=True)
        for source, name in self.images:
            self.sh("import", source, name)


class MkimgRootless(Mkimg):
    """mkimg run by an ordinary user (scripts/make-rootless-user.sh makes `mkimg-bench` with a
    subordinate range): it builds in a user namespace of its own. Started as that user (the
    switch made between fork and exec, no launcher), from a copy of the binary it can read."""
    name = "mkimg-rootless"
    user_name = "mkimg-bench"

    def __init__(self, work):
        super().__init__(work)
        self.home = os.path.join(work, "mkimg-rootless")
        self.root = os.path.join(self.home, "store")

    def available(self):
        if not super().available():
            return False
        sh([os.path.join(SOURCE, "scripts", "make-rootless-user.sh"), self.user_name, "500000",
            "65536"])
        os.makedirs(os.path.join(self.home, "bin"), exist_ok=True)
        binary = os.path.join(self.home, "bin", "mkimg")
        shutil.copy(MKIMG, binary)
        os.chmod(binary, 0o755)
        os.chmod(os.path.dirname(self.home), 0o755)
        sh(["chown", "-R", self.user_name + ":", self.home])
        pw = pwd.getpwnam(self.user_name)
        self.prefix = [binary]
        self.user = (pw.pw_uid, pw.pw_gid)
        return True

    def load_base(self, tar):
        """The same base images as root's, through save and load: a user namespace can make no
        device node, so the debootstrap tar (it has /dev/*) is imported by root."""
        self.base_tar = tar
        shutil.rmtree(self.root, ignore_errors=True)
        staging = os.path.join(os.path.dirname(self.home), "rootless-staging")
        shutil.rmtree(staging, ignore_errors=True)
        out = os.path.join(self.home, "bases.tar")
        sh([MKIMG, "--root", staging, "import", tar, "bench-base:latest"])
        sh([MKIMG, "--root", staging, "import", tiny_root(os.path.dirname(self.home)),
            "bench-tiny:latest"])
        sh([MKIMG, "--root", staging, "save", "--format", "oci", "-o", out, "bench-base:latest",
            "bench-tiny:latest"])
        shutil.rmtree(staging, ignore_errors=True)
        sh(["chown", self.user_name + ":", out])
        self.sh("load", "-i", out)
        # Root's import leaves the base unpacked; a load does not: unpack it here, so that both
        # start scenario 1 from the same state.
        for base in ("bench-base", "bench-tiny"):
            df = dockerfile(self.home, "unpack-" + base, "FROM %s:latest\nRUN true\n" % base)
            self.sh("build", "--progress", "quiet", "-f", df, self.home)

    def reset(self):
        self.load_base(self.base_tar)


class Buildah(Tool):
    """Debian's buildah with its own overlay storage under the work directory, `bud --layers`,
    RUN through runc (OCI isolation, like mkimg)."""
    name = "buildah"

    def __init__(self, work):
        self.dir = os.path.join(work, "buildah")
        self.global_flags = ["--root", os.path.join(self.dir, "storage"), "--runroot",
                             os.path.join(self.dir, "run"), "--storage-driver", "overlay"]
        self.keep = set()  # the ids of the base images, which reset() keeps

    def cmd(self, *args):
        return ["buildah"] + self.global_flags + list(args)

    def out(self, *args):
        return subprocess.run(self.cmd(*args), capture_output=True, text=True).stdout.strip()

    def available(self):
        return shutil.which("buildah") is not None and shutil.which("runc") is not None

    def load_base(self, tar):
        sh(self.cmd("rmi", "-a", "-f"), check=False)
        self.keep = set()
        self.add_image(tar, "bench-base:latest")

    def add_image(self, tar, name):
        # buildah has no import: commit a scratch container holding the root.
        ctr = self.out("from", "scratch")
        mnt = self.out("mount", ctr)
        sh(["tar", "-C", mnt, "--numeric-owner", "-xf", tar])
        sh(self.cmd("umount", ctr))
        sh(self.cmd("commit", "--rm", "-q", ctr, name))
        self.keep.add(self.out("images", "-q", "--no-trunc", name))

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = self.cmd("bud", "--layers", "--isolation", "oci", "--runtime", "runc",
                       "--network", "host", "-f", dockerfile, "-t", tag, "--quiet", context)
        if no_cache:
            cmd.insert(cmd.index("bud") + 1, "--no-cache")
        return timed(cmd)

    def reset(self):
        sh(self.cmd("rm", "-a"), check=False)
        for _ in range(5):  # children first: repeat until only the base is left
            images = set(self.out("images", "-a", "-q", "--no-trunc").split()) - self.keep
            if not images:
                break
            for image in images:
                sh(self.cmd("rmi", "-f", image), check=False)

    def stop(self):
        sh(self.cmd("rm", "-a"), check=False)
        sh(self.cmd("rmi", "-a", "-f"), check=False)


class Docker(Tool):
    """Debian's docker.io: a private dockerd (its own data root, no bridge, no iptables) started
    by tests/peers/dockerd.sh, builds by BuildKit with --network host."""
    name = "docker"
    SCRIPT = os.path.join(SOURCE, "tests", "peers", "dockerd.sh")

    def __init__(self, work):
        self.dir = os.path.join(work, "docker")
        self.started = False
        self.keep = {"bench-base:latest"}  # the base images, which reset() keeps

    def client(self):
        return [self.SCRIPT, "client", self.dir]

    def available(self):
        if not (os.access("/usr/sbin/dockerd", os.X_OK) and os.access("/usr/bin/docker", os.X_OK)):
            return False
        proc = subprocess.run([self.SCRIPT, "start", self.dir, str(os.getpid())],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print("bench: dockerd did not start:\n" + proc.stderr[-2000:])
            return False
        self.started = True
        return True

    def stop(self):
        if self.started:
            sh([self.SCRIPT, "stop", self.dir], check=False)
            self.started = False

    def load_base(self, tar):
        sh(self.client() + ["import", tar, "bench-base:latest"])

    def add_image(self, tar, name):
        sh(self.client() + ["import", tar, name])
        self.keep.add(name)

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = self.client() + ["build", "--network", "host", "-q", "-f", dockerfile, "-t", tag,
                               context]
        if no_cache:
            cmd.insert(cmd.index("build") + 1, "--no-cache")
        return timed(cmd)

    def reset(self):
        images = subprocess.run(self.client() + ["images", "-q", "--filter",
                                                 "reference=bench-*:*"],
                                capture_output=True, text=True).stdout.split()
        keep = {subprocess.run(self.client() + ["images", "-q", name], capture_output=True,
                               text=True).stdout.strip() for name in self.keep}
        for image in set(images) - keep:
            sh(self.client() + ["rmi", "-f", image], check=False)
        sh(self.client() + ["builder", "prune", "-af"], check=False)


# ---------------------------------------------------------------- scenarios

RUNS4 = "".join("RUN echo step%d > /step%d\n" % (i, i) for i in range(4))


def dockerfile(work, name, text):
    path = os.path.join(work, name + ".Dockerfile")
    with open(path, "w") as f:
        f.write(text)
    return path


def scenario_contexts(work):
    ctx50 = write_tree(os.path.join(CACHE, "ctx-50M-5000"), 5000, 50 << 20, seed=1)
    ctx500 = write_tree(os.path.join(CACHE, "ctx-500M"), 20000, 500 << 20, seed=2, large=8)
    # Contexts are copied into work/ so scenario 3 can change a file without touching the cache.
    ctx = os.path.join(work, "ctx50")
    if not os.path.isdir(ctx):
        shutil.copytree(ctx50, ctx, symlinks=True)
    return ctx, ctx500


def floor_compress(path, sha=True):
    """tar | pigz -6 and tar | zstd -T0 -3 of the same tree, and (with sha) sha256 of it."""
    floors = {}
    commands = [("tar|pigz -6", "tar -C %s -cf - . | pigz -6 > /dev/null"),
                ("tar|zstd -T0 -3", "tar -C %s -cf - . | zstd -q -T0 -3 > /dev/null")]
    if sha:
        commands.append(("tar|sha256sum", "tar -C %s -cf - . | sha256sum > /dev/null"))
    for name, cmd in commands:
        start = time.monotonic()
        sh(cmd % path)
        floors[name] = time.monotonic() - start
    return floors


class RuncFloor:
    """A bare `runc run` of `command` on `root` (written in place; close() undoes it), started
    as the tools are (through bench/timed.c). One run per sample(), taken right after mkimg's own
    sample of the same command, so both meet the same load and the same warmth (three runs back
    to back, as until 2026-12-06, gave the floor warm caches that a tool's single run after other
    work does not have)."""

    def __init__(self, root, command):
        import json
        self.root = root
        self.runs = 0
        self.bundle = tempfile.mkdtemp(dir="/var/tmp", prefix="mkimg-bench-floor-")
        sh(["runc", "spec", "--bundle", self.bundle])
        cfg_path = os.path.join(self.bundle, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["root"] = {"path": root, "readonly": False}
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["/bin/sh", "-c", command]
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "network"]
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)

    def sample(self):
        self.runs += 1
        seconds, _ = timed(["runc", "run", "--bundle", self.bundle,
                            "mkimg-bench-floor-%d-%d" % (os.getpid(), self.runs)])
        return seconds

    def close(self):
        shutil.rmtree(self.bundle, ignore_errors=True)
        try:
            os.unlink(os.path.join(self.root, "etc", "bench-one-file"))
        except FileNotFoundError:
            pass


def clean_work(work):
    """Removes the work directory of an earlier run, unmounting what a killed peer left there."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mount in sorted((m for m in mounts if m.startswith(work + "/")), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)
    shutil.rmtree(work, ignore_errors=True)


SNAP_COMMAND = "echo changed > /etc/bench-one-file"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="1,2,3,4,5,6,7")
    parser.add_argument("--tools", default="mkimg,mkimg-rootless,buildah,docker")
    parser.add_argument("--work", default="/var/tmp/mkimg-bench-work")
    parser.add_argument("--scale", default="10000,50000,100000",
                        help="scenario 8's context sizes, in files (default: %(default)s)")
    parser.add_argument("--large-mb", type=int, default=1024,
                        help="scenario 9's RUN output in MB; its base is twice that "
                             "(default: %(default)s)")
    args = parser.parse_args()
    wanted = {int(s) for s in args.scenarios.split(",")}
    sizes = sorted({int(n) for n in args.scale.split(",")})
    if 8 in wanted and (len(sizes) < 2 or sizes[0] < 1):
        parser.error("--scale needs at least two sizes of at least 1 file")
    if 9 in wanted and args.large_mb < 1:
        parser.error("--large-mb must be at least 1")
    name_scale_scenarios(sizes, args.large_mb)

    subprocess.run([os.path.join(SOURCE, "scripts", "install-deps.sh")], check=True,
                   env=dict(os.environ, MKIMG_BENCH="1"))
    if not os.access(MKIMG, os.X_OK):
        sh([os.path.join(SOURCE, "scripts", "build.sh")], quiet=False)
    clean_work(args.work)
    os.makedirs(args.work)
    compile_timed(args.work)
    root, base_tar = debian_root()
    ctx50, ctx500 = scenario_contexts(args.work)
    if 8 in wanted:
        for n in sizes:
            if not os.path.isdir(os.path.join(CACHE, "scale-%d" % n)):
                print("bench: generating a context of %d files (once, cached in %s)" % (n, CACHE),
                      flush=True)
            write_small_files(os.path.join(CACHE, "scale-%d" % n), n, seed=8)
    if 9 in wanted:
        large_inputs(args.large_mb)
    print("bench: %s, %d CPUs, load average %s; mkimg %s" % (
        os.uname().nodename, os.cpu_count(), " ".join("%.2f" % l for l in os.getloadavg()),
        MKIMG), flush=True)

    tools = []
    try:
        for cls in (Mkimg, MkimgRootless, Buildah, Docker):
            tool = cls(args.work)
            if tool.name not in args.tools.split(","):
                continue
            if not tool.available():
                print("bench: %s missing (cannot run here) - not measured" % tool.name)
                continue
            try:
                if wanted & {1, 2, 3, 4, 5}:  # scenario 7 pulls its base from a registry
                    tool.load_base(base_tar)
            except (subprocess.CalledProcessError, Failed) as e:
                print("bench: %s cannot load the base image - not measured: %s %s" % (
                    tool.name, e, getattr(e, "stderr", b"")))
                tool.stop()
                continue
            tools.append(tool)
        results, floors, failures, digests = run_scenarios(args, tools, wanted, root, ctx50,
                                                           ctx500)
        if 8 in wanted:
            run_scale(args, tools, sizes, results, floors, failures)
        if 9 in wanted:  # after 8: mkimg's reset() imports every base it was given again
            run_large(args, tools, args.large_mb, results, floors, failures)
        fresh = None
        if 7 in wanted:
            fresh = run_fresh_runner(args, tools, base_tar, results, failures)
    finally:
        for tool in tools:
            tool.stop()

    if 6 in wanted and any(t.name == "mkimg" for t in tools):
        for _ in range(args.runs):
            try:
                results.setdefault(6, {}).setdefault("mkimg", []).append(
                    plan_300_stages(args.work))
            except Failed as e:
                failures.append((6, "mkimg", str(e)))

    report(results, floors, failures, digests, fresh, sizes if 8 in wanted else None,
           args.large_mb if 9 in wanted else None)
    return 1 if failures else 0


def mkimg_layer_digest(tool, tag):
    out = subprocess.run([MKIMG, "--root", tool.root, "inspect", tag], capture_output=True,
                         text=True).stdout
    import json
    try:
        return json.loads(out)[0]["Manifest"]["layers"][-1]["digest"]
    except (ValueError, LookupError, TypeError):
        return "?"


def measurer(results, failures):
    """measure(scenario, tool, build args...): one build, its (seconds, RSS) in results, or its
    failure in failures (printed at once and in the report)."""
    def measure(scenario, tool, *build_args, **kwargs):
        try:
            value = tool.build(*build_args, **kwargs)
        except Failed as e:
            failures.append((scenario, tool.name, str(e)))
            print("bench: %s scenario %s FAILED: %s" % (tool.name, scenario, e), flush=True)
            return None
        results.setdefault(scenario, {}).setdefault(tool.name, []).append(value)
        return value
    return measure


def run_scenarios(args, tools, wanted, root, ctx50, ctx500):
    df_cold = dockerfile(args.work, "cold", "FROM bench-base:latest\n" + RUNS4 +
                         "COPY . /ctx\nRUN ls -R /ctx | wc -l > /count\n")
    df_snap = dockerfile(args.work, "snap", "FROM bench-base:latest\nRUN %s\n" % SNAP_COMMAND)
    df_big = dockerfile(args.work, "big", "FROM bench-base:latest\nCOPY . /data\n")
    df_tiny = dockerfile(args.work, "tiny", "FROM bench-tiny:latest\nRUN %s\n" % SNAP_COMMAND)
    empty = os.path.join(args.work, "empty-context")
    os.makedirs(empty, exist_ok=True)
    results = {}  # scenario -> tool -> [(seconds, rss)]
    floors = {}  # scenario -> floor -> [seconds], measured in every run beside the tools
    failures = []  # (scenario, tool, message)
    digests = []  # mkimg's scenario-5 layer digest of every run (deterministic = all equal)
    measure = measurer(results, failures)

    snap_floor = RuncFloor(root, SNAP_COMMAND) if 4 in wanted else None
    for run in range(args.runs if wanted & {1, 2, 3, 4, 5} else 0):
        order = tools if run % 2 == 0 else list(reversed(tools))
        for tool in order:
            print("bench: run %d/%d %s" % (run + 1, args.runs, tool.name), flush=True)
            if wanted & {1, 2, 3}:
                tool.reset()
                if measure(1, tool, ctx50, df_cold, "bench-cold:latest") is not None:
                    if 2 in wanted:
                        measure(2, tool, ctx50, df_cold, "bench-cold:latest")
                    if 3 in wanted:
                        changed = os.path.join(ctx50, "d00", "s00", "f00000.txt")
                        with open(changed, "a") as f:
                            f.write("change %d %s\n" % (run, tool.name))
                        measure(3, tool, ctx50, df_cold, "bench-cold:latest")
                    if 1 in wanted:
                        # Scenario 1 again with --no-cache on the store it warmed (the base
                        # already there and unpacked): every step runs, nothing is pulled.
                        measure("1n", tool, ctx50, df_cold, "bench-cold-nc:latest",
                                no_cache=True)
            if 4 in wanted:
                measure(4, tool, empty, df_snap, "bench-snap:latest", no_cache=True)
                if tool.name == "mkimg":
                    floors.setdefault(4, {}).setdefault("bare runc run", []).append(
                        snap_floor.sample())
            if 5 in wanted:
                if measure(5, tool, ctx500, df_big, "bench-big:latest", no_cache=True) and \
                        tool.name == "mkimg":
                    digests.append(mkimg_layer_digest(tool, "bench-big:latest"))
            if 4 in wanted and tool.name == "mkimg":
                measure("4t", tool, empty, df_tiny, "bench-tiny-snap:latest", no_cache=True)
        # The floors are measured in every run too, under the same load as the tools.
        if 5 in wanted:
            for name, seconds in floor_compress(ctx500).items():
                floors.setdefault(5, {}).setdefault(name, []).append(seconds)
    if snap_floor:
        snap_floor.close()
    return results, floors, failures, digests


# ---------------------------------------------------------------- scenarios 8 and 9: scale
#
# Issue #18: a build's cost should grow with what changed, not with the context or the root.
# Scenario 8 is a scale series (contexts of N small files: cold, no-op, one file changed), whose
# growth factor (time at the largest N / time at the smallest) says how each tool scales.
# Scenario 9 is large steps: a RUN writing ~1 GB in ~50,000 files and a one-line RUN on a ~2 GB
# base. Both measure mkimg, buildah and docker (not mkimg-rootless) on busybox bases imported into
# each tool the same way (mkimg import, buildah commit of a scratch container, docker import).

SCALE_MEASURES = [("c", "cold"), ("n", "no-op"), ("f", "one-file")]
ONE_FILE_FLOOR = "walk + sha256 of the layer tar + runc run"
SCALE_TOOLS = ("mkimg", "buildah", "docker")
IMPORTED = set()  # (tool, image name): what scenario_peers already imported


def scale_key(measure, files):
    return "8%s:%d" % (measure, files)


def describe(e):
    stderr = getattr(e, "stderr", None)
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    return str(e) + ("\n" + stderr[-2000:] if stderr else "")


def scenario_peers(tools, scenario, images, failures):
    """The tools scenario 8 or 9 measures, each with the images (tar, name) imported (not
    timed); a tool that cannot import them is reported as FAILED and left out."""
    peers = []
    for tool in tools:
        if tool.name not in SCALE_TOOLS:
            print("bench: scenario %s does not measure %s" % (scenario, tool.name))
            continue
        try:
            for tar, name in images:
                if (tool.name, name) not in IMPORTED:
                    tool.add_image(tar, name)
                    IMPORTED.add((tool.name, name))
        except (subprocess.CalledProcessError, Failed) as e:
            failures.append((scenario, tool.name, "cannot import its base: " + describe(e)))
            print("bench: %s scenario %s cannot import its base - not measured: %s" % (
                tool.name, scenario, describe(e)), flush=True)
            continue
        peers.append(tool)
    return peers


def floor_find(path):
    """The stat floor of a no-op rebuild: find printing every entry's size and mtime."""
    start = time.monotonic()
    sh("find %s -printf '%%s %%T@\\n' > /dev/null" % path)
    return time.monotonic() - start


def floor_walk(path):
    """The stat floor of a context on every core: bench/walk.c (getdents64 and statx)."""
    seconds, _ = timed([WALK, path])
    return seconds


def floor_sha256(path):
    """SHA-256 (OpenSSL, through hashlib) of the file `path`, read warm: what a one-file change
    of the first file in a layer must hash again to finish the layer's diff_id."""
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    start = time.monotonic()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
    return time.monotonic() - start


def busybox_image(work):
    return tar_of(os.path.join(work, "busybox.tar"),
                  (busybox_root(os.path.join(work, "busybox-root")), "."))


def run_scale(args, tools, sizes, results, floors, failures):
    """Scenario 8. For each size N (contexts cached in CACHE/scale-N, copied into the work
    directory so the change leaves the cache as generated) and each tool, alternating the order:
    reset (the tool's step and context caches dropped, the bases kept: for mkimg a new store
    with the bases imported), cold build, no-op rebuild, one file appended to, rebuild. The find
    floor is measured in every run over the same tree."""
    measure = measurer(results, failures)
    peers = scenario_peers(tools, "8", [(busybox_image(args.work), "bench-busybox:latest")],
                           failures)
    if not peers:
        return
    df = dockerfile(args.work, "scale",
                    "FROM bench-busybox:latest\nCOPY data /data\nRUN ls /data | wc -l\n")
    contexts, layer_tars = {}, {}
    for n in sizes:
        contexts[n] = os.path.join(args.work, "scale-%d" % n)
        sh(["cp", "-a", os.path.join(CACHE, "scale-%d" % n), contexts[n]])
        # The COPY's layer as a tar (the same entries in the same order): the one-file floor
        # hashes it, the changed file being the first in it.
        layer_tars[n] = os.path.join(args.work, "scale-%d.tar" % n)
        sh(["tar", "-C", contexts[n], "--sort=name", "-cf", layer_tars[n], "data"])
    # The floor of the one-file change: a stat of every context file (bench/walk.c), the layer's tar
    # hashed again from the changed file on (all of it: the bench changes the first file) and a
    # bare runc run of the RUN, each sampled right after mkimg's one-file build.
    run_floor = RuncFloor(os.path.join(args.work, "busybox-root"),
                          "ls /data 2>/dev/null | wc -l")
    for run in range(args.runs):
        order = peers if run % 2 == 0 else list(reversed(peers))
        for n in sizes:
            ctx = contexts[n]
            for tool in order:
                print("bench: run %d/%d scenario 8, %d files, %s" % (run + 1, args.runs, n,
                                                                    tool.name), flush=True)
                try:
                    tool.reset()
                except (subprocess.CalledProcessError, Failed) as e:
                    failures.append((scale_key("c", n), tool.name, "reset: " + describe(e)))
                    continue
                if measure(scale_key("c", n), tool, ctx, df, "bench-scale:latest") is None:
                    continue
                measure(scale_key("n", n), tool, ctx, df, "bench-scale:latest")
                with open(os.path.join(ctx, "data", "d000", "f0000"), "a") as f:
                    f.write("change %d %s\n" % (run, tool.name))
                measure(scale_key("f", n), tool, ctx, df, "bench-scale:latest")
                if tool.name == "mkimg":
                    floors.setdefault(scale_key("f", n), {}).setdefault(ONE_FILE_FLOOR, []).append(
                        floor_walk(ctx) + floor_sha256(layer_tars[n]) + run_floor.sample())
            floors.setdefault(scale_key("n", n), {}).setdefault("find -printf", []).append(
                floor_find(ctx))
    run_floor.close()


def floor_large_run(work, src_tar):
    """Scenario 9's RUN done on the host: the same busybox tar extracting the same tarball,
    then tar | pigz -6 and tar | zstd -T0 -3 of the tree it wrote."""
    tree = os.path.join(work, "large-floor")
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    start = time.monotonic()
    sh(["/bin/busybox", "tar", "-xf", src_tar, "-C", tree])
    floors = {"tar -x": time.monotonic() - start}
    floors.update(floor_compress(tree, sha=False))
    floors["tar -x + tar|pigz -6"] = floors["tar -x"] + floors["tar|pigz -6"]
    shutil.rmtree(tree)
    return floors


def run_large(args, tools, mb, results, floors, failures):
    """Scenario 9, all builds --no-cache: 9r, `RUN mkdir /out && tar -xf /src.tar -C /out` on a
    busybox image holding a tarball of MB megabytes in ~50,000 files per GiB; 9b, a one-line RUN
    on a base of 2*MB megabytes; 9t (mkimg only), the same one-line RUN on the busybox base.
    Floors in every run: the RUN's tar -x on the host, tar | pigz and tar | zstd of the tree it
    wrote; a bare runc run of the one-line RUN on the 2*MB root."""
    measure = measurer(results, failures)
    src_tar, src_image, base_root, base_tar = large_inputs(mb)
    print("bench: scenario 9 imports its bases (%d MB, %d MB) into each tool (not timed)" % (
        mb, 2 * mb), flush=True)
    peers = scenario_peers(tools, "9", [(busybox_image(args.work), "bench-busybox:latest"),
                                        (src_image, "bench-large-src:latest"),
                                        (base_tar, "bench-large-base:latest")], failures)
    if not peers:
        return
    empty = os.path.join(args.work, "empty-context")
    os.makedirs(empty, exist_ok=True)
    df_run = dockerfile(args.work, "large-run", "FROM bench-large-src:latest\n"
                        "RUN mkdir /out && tar -xf /src.tar -C /out\n")
    df_base = dockerfile(args.work, "large-base",
                         "FROM bench-large-base:latest\nRUN %s\n" % SNAP_COMMAND)
    df_small = dockerfile(args.work, "large-small",
                          "FROM bench-busybox:latest\nRUN %s\n" % SNAP_COMMAND)
    base_floor = RuncFloor(base_root, SNAP_COMMAND)
    for run in range(args.runs):
        order = peers if run % 2 == 0 else list(reversed(peers))
        for tool in order:
            print("bench: run %d/%d scenario 9 %s" % (run + 1, args.runs, tool.name), flush=True)
            measure("9r", tool, empty, df_run, "bench-large-run:latest", no_cache=True)
            # The one-line RUNs start with the 1 GB that 9r wrote already on disk (not timed): a
            # tool's final sync must not pay for 9r's writeback. mkimg's is followed by a sample
            # of its floor, under the same load.
            os.sync()
            measure("9b", tool, empty, df_base, "bench-large-base-run:latest", no_cache=True)
            if tool.name == "mkimg":
                floors.setdefault("9b", {}).setdefault("bare runc run", []).append(
                    base_floor.sample())
                os.sync()
                measure("9t", tool, empty, df_small, "bench-large-small-run:latest",
                        no_cache=True)
        for name, seconds in floor_large_run(args.work, src_tar).items():
            floors.setdefault("9r", {}).setdefault(name, []).append(seconds)
    base_floor.close()


# ---------------------------------------------------------------- scenario 7: a fresh CI runner
#
# Scenario 1's build on a runner that starts with nothing: an empty store, the base image and the
# build cache in a loopback registry. Per run: a new registry with the base pushed to it, a "warm"
# job per tool that fills its cache there, then measured builds each in a new empty store (a new
# --root, a new buildah --root/--runroot, a new dockerd data root). The registry's JSON log says
# what each measured build moved through it.

# The loopback registry is asked directly, whatever http_proxy says.
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remove_tree(path):
    """Removes a store a tool built in, unmounting first what it left mounted there."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mount in sorted((m for m in mounts if m == path or m.startswith(path + "/")),
                        reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)
    shutil.rmtree(path, ignore_errors=True)


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no %s)" % path


class Registry:
    """Debian's docker-registry on a free loopback port (started as tests/support/
    registry_fixture.h starts it), logging at info level with the JSON formatter: one
    `response completed` entry per request, with its method, URI, status and
    http.response.written (the bytes of the response body)."""

    BLOBS = "storage/docker/registry/v2/blobs"

    def __init__(self, path):
        self.dir = path
        os.makedirs(path)
        self.host = "127.0.0.1:%d" % free_port()
        self.log = os.path.join(path, "registry.log")
        config = os.path.join(path, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: info\n  formatter: json\n"
                    "  accesslog:\n    disabled: false\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s/storage\n"
                    "  delete:\n    enabled: true\n"
                    "http:\n  addr: %s\n  secret: mkimg-bench\n" % (path, self.host))
        with open(self.log, "wb") as err, \
                open(os.path.join(path, "access.log"), "wb") as out:
            self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=out,
                                         stderr=err)
        deadline = time.monotonic() + 30
        while True:
            try:
                LOOPBACK.open("http://%s/v2/" % self.host, timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise Failed("docker-registry did not start:\n" + tail(self.log))
                time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def mark(self):
        return os.path.getsize(self.log)

    def entries(self, since):
        """The requests completed since mark `since`. The registry logs a request once its
        response is written, so wait until the log stops growing first."""
        size = -1
        while size != self.mark():
            size = self.mark()
            time.sleep(0.3)
        with open(self.log, "rb") as f:
            f.seek(since)
            data = f.read()
        for line in data.decode(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and \
                    str(entry.get("msg", "")).startswith("response completed"):
                yield entry

    def blob_size(self, digest):
        hexd = digest.partition(":")[2]
        try:
            return os.path.getsize(os.path.join(self.dir, self.BLOBS, "sha256", hexd[:2], hexd,
                                                "data"))
        except OSError:
            return 0

    def layer_digests(self):
        """Every digest some manifest the registry holds names as a layer (a manifest is a blob
        too); the other blobs are configs and cache entries."""
        layers = set()
        for dirpath, _, files in os.walk(os.path.join(self.dir, self.BLOBS)):
            path = os.path.join(dirpath, "data")
            if "data" not in files or os.path.getsize(path) > (1 << 20):
                continue
            try:
                with open(path) as f:
                    doc = json.load(f)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and "schemaVersion" in doc:
                for layer in doc.get("layers") or []:
                    if isinstance(layer, dict) and "digest" in layer:
                        layers.add(layer["digest"])
        return layers

    def traffic(self, since):
        """What moved through the registry since mark `since`: bytes of the layer blobs it sent
        (GET), of everything else it sent (manifests, configs, cache entries), of the layer
        blobs and other blobs uploaded to it (a finished upload's blob size), and the number of
        blobs mounted from another repository instead of uploaded."""
        layers = self.layer_digests()
        moved = {"down_layers": 0, "down_other": 0, "up_layers": 0, "up_other": 0, "mounts": 0}
        for e in self.entries(since):
            method = e.get("http.request.method")
            status = e.get("http.response.status", 0)
            path, _, query = e.get("http.request.uri", "").partition("?")
            if method == "GET" and status in (200, 206):
                digest = path.rsplit("/", 1)[-1] if "/blobs/" in path else ""
                moved["down_layers" if digest in layers else "down_other"] += \
                    e.get("http.response.written", 0)
            elif method == "PUT" and "/blobs/uploads/" in path and status == 201:
                digest = urllib.parse.parse_qs(query).get("digest", [""])[0]
                moved["up_layers" if digest in layers else "up_other"] += self.blob_size(digest)
            elif method == "POST" and "mount=" in query and status == 201:
                moved["mounts"] += 1
        return moved

    def layers(self, repo, tag):
        """[(digest, size)] of the layers of REPO:TAG's manifest."""
        req = urllib.request.Request(
            "http://%s/v2/%s/manifests/%s" % (self.host, repo, tag),
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                               "application/vnd.docker.distribution.manifest.v2+json"})
        with LOOPBACK.open(req, timeout=30) as r:
            return [(l["digest"], l["size"]) for l in json.load(r)["layers"]]


class FreshMkimg:
    """mkimg, started as the Mkimg tool starts it, each build in a store of its own."""
    name = "mkimg"

    def __init__(self, tool, path):
        self.prefix = tool.prefix
        self.user = tool.user
        self.dir = path

    def build(self, store, ctx, df, *flags):
        return timed(self.prefix + ["--root", os.path.join(self.dir, store), "build",
                                    "--progress", "quiet"] + list(flags) + ["-f", df, ctx],
                     user=self.user)

    def warm(self, reg, ctx, df):
        seconds = self.build("warm", ctx, df, "--cache-to",
                             "type=registry,ref=%s/cache-mkimg,mode=max" % reg.host, "-t", "app")
        sh(self.prefix + ["--root", os.path.join(self.dir, "warm"), "push", "-q", "app",
                          "%s/final-mkimg:1" % reg.host], user=self.user)
        self.final = ("final-mkimg", "1")
        return seconds

    def fresh(self, reg, ctx, df, store, cache=True, push=None):
        flags = ["--cache-from", "type=registry,ref=%s/cache-mkimg" % reg.host] if cache else []
        flags += ["-t", push, "--output", "type=registry"] if push else ["-t", "app"]
        try:
            return self.build(store, ctx, df, *flags)
        finally:
            remove_tree(os.path.join(self.dir, store))

    def warm_store_change(self, ctx, df):
        """The one-file change on the warm job's store (scenario 3's build, no shared cache)."""
        return self.build("warm", ctx, df, "-t", "app")


class FreshBuildah:
    """buildah bud --layers with --cache-to / --cache-from a registry repository, each build with
    a new --root and --runroot."""
    name = "buildah"

    def __init__(self, tool, path):
        self.dir = path

    def cmd(self, store, *args):
        return ["buildah", "--root", os.path.join(self.dir, store, "storage"), "--runroot",
                os.path.join(self.dir, store, "run"), "--storage-driver", "overlay"] + list(args)

    def bud(self, store, ctx, df, *flags):
        return timed(self.cmd(store, "bud", "--layers", "--isolation", "oci", "--runtime", "runc",
                              "--network", "host", "--tls-verify=false", *flags, "-f", df,
                              "-t", "app", "--quiet", ctx))

    def drop(self, store):
        sh(self.cmd(store, "rm", "-a"), check=False)
        sh(self.cmd(store, "rmi", "-a", "-f"), check=False)
        remove_tree(os.path.join(self.dir, store))

    def warm(self, reg, ctx, df):
        try:
            seconds = self.bud("warm", ctx, df, "--cache-to", "%s/cache-buildah" % reg.host)
            sh(self.cmd("warm", "push", "--tls-verify=false", "app",
                        "docker://%s/final-buildah:1" % reg.host))
            self.final = ("final-buildah", "1")
            return seconds
        finally:
            self.drop("warm")

    def fresh(self, reg, ctx, df, store):
        try:
            return self.bud(store, ctx, df, "--cache-from", "%s/cache-buildah" % reg.host)
        finally:
            self.drop(store)


class FreshDocker:
    """Docker's BuildKit with an inline cache: the warm job builds with
    --build-arg BUILDKIT_INLINE_CACHE=1 and pushes; a measured build runs on a dockerd started
    for it with a new data root (started and stopped outside the time), --cache-from the pushed
    image. dockerd treats 127.0.0.0/8 as an insecure registry by default."""
    name = "docker"

    def __init__(self, tool, path):
        self.dir = path

    def engine(self, store):
        engine = os.path.join(self.dir, store)
        os.makedirs(self.dir, exist_ok=True)
        proc = subprocess.run([Docker.SCRIPT, "start", engine, str(os.getpid())],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise Failed("dockerd did not start:\n" + proc.stderr[-2000:])
        return engine

    def client(self, engine, *args):
        return [Docker.SCRIPT, "client", engine] + list(args)

    def warm(self, reg, ctx, df):
        engine = self.engine("warm")
        try:
            ref = "%s/app-docker:1" % reg.host
            build, rss = timed(self.client(engine, "build", "--network", "host", "-q",
                                           "--build-arg", "BUILDKIT_INLINE_CACHE=1", "-f", df,
                                           "-t", ref, ctx))
            push, _ = timed(self.client(engine, "push", ref))
            self.final = ("app-docker", "1")
            return build + push, rss
        finally:
            sh([Docker.SCRIPT, "stop", engine], check=False)

    def fresh(self, reg, ctx, df, store):
        engine = self.engine(store)
        try:
            return timed(self.client(engine, "build", "--network", "host", "-q", "--cache-from",
                                     "%s/app-docker:1" % reg.host, "-f", df, "-t", "app", ctx))
        finally:
            sh([Docker.SCRIPT, "stop", engine], check=False)


def download_floor(reg, repo, layers):
    """One curl fetching the given layer blobs from the registry, one after the other."""
    cmd = ["curl", "-sf", "--noproxy", "*"]
    for digest, _ in layers:
        cmd += ["-o", "/dev/null", "http://%s/v2/%s/blobs/%s" % (reg.host, repo, digest)]
    start = time.monotonic()
    sh(cmd)
    return time.monotonic() - start


def run_fresh_runner(args, tools, base_tar, results, failures):
    """Scenario 7. Fills results["7w" | "7a" | "7b" | "7r" | "7c"][tool] like run_scenarios;
    returns what the bytes report needs."""
    fresh = {"bytes": {}, "final": {}, "floor": [], "floor_layers": []}
    adapters = {"mkimg": FreshMkimg, "buildah": FreshBuildah, "docker": FreshDocker}
    peers = [adapters[t.name](t, os.path.join(args.work, "s7", t.name))
             for t in tools if t.name in adapters]
    if not any(p.name == "mkimg" for p in peers):
        print("bench: scenario 7 needs mkimg - not measured")
        return fresh
    for t in tools:
        if t.name not in adapters:
            print("bench: scenario 7 does not measure %s" % t.name)
    top = os.path.join(args.work, "s7")
    base_store = os.path.join(top, "base-store")
    sh([MKIMG, "--root", base_store, "import", base_tar, "bench-base:latest"])
    ctx_src = os.path.join(CACHE, "ctx-50M-5000")

    def attempt(key, name, fn, reg=None):
        """Runs one measured build; with reg, records the bytes it moved through it."""
        mark = reg.mark() if reg else None
        try:
            value = fn()
        except (Failed, subprocess.CalledProcessError) as e:
            message = describe(e)
            failures.append((key, name, message))
            print("bench: %s scenario %s FAILED: %s" % (name, key, message), flush=True)
            return None
        results.setdefault(key, {}).setdefault(name, []).append(value)
        if reg:
            fresh["bytes"].setdefault(key, {}).setdefault(name, []).append(reg.traffic(mark))
        return value

    for run in range(args.runs):
        order = peers if run % 2 == 0 else list(reversed(peers))
        run_dir = os.path.join(top, "run%d" % (run + 1))
        reg = None
        try:
            reg = Registry(os.path.join(run_dir, "registry"))
            sh([MKIMG, "--root", base_store, "push", "-q", "bench-base:latest",
                "%s/bench-base:1" % reg.host])
            ctx = os.path.join(run_dir, "ctx")
            shutil.copytree(ctx_src, ctx, symlinks=True)
            df = dockerfile(run_dir, "fresh", "FROM %s/bench-base:1\n" % reg.host + RUNS4 +
                            "COPY . /ctx\nRUN ls -R /ctx | wc -l > /count\n")
            warmed = []
            for p in order:
                print("bench: run %d/%d scenario 7 warm job %s" % (run + 1, args.runs, p.name),
                      flush=True)
                if attempt("7w", p.name, lambda: p.warm(reg, ctx, df)) is not None:
                    warmed.append(p)
                    fresh["final"].setdefault(p.name, []).append(
                        sum(size for _, size in reg.layers(*p.final)))
            # (a) everything cached, (b) mkimg with no cache at all
            for p in warmed:
                print("bench: run %d/%d scenario 7 fresh runner %s" % (run + 1, args.runs,
                                                                       p.name), flush=True)
                if p.name != "mkimg":
                    attempt("7a", p.name, lambda: p.fresh(reg, ctx, df, "fresh"), reg)
                    continue
                attempt("7a", "mkimg", lambda: p.fresh(reg, ctx, df, "fresh"), reg)
                attempt("7a", "mkimg push-only", lambda: p.fresh(
                    reg, ctx, df, "fresh-push", push="%s/app-mkimg:%d" % (reg.host, run + 1)),
                    reg)
                attempt("7b", "mkimg", lambda: p.fresh(reg, ctx, df, "cold", cache=False), reg)
            # (c) one context file changed: the COPY and the RUN after it miss
            with open(os.path.join(ctx, "d00", "s00", "f00000.txt"), "a") as f:
                f.write("change %d\n" % run)
            for p in warmed:
                if p.name == "mkimg":
                    attempt("7r", "mkimg", lambda: p.warm_store_change(ctx, df))
                    # The layers COPY needs on a fresh runner: all but the image's last two.
                    needed = reg.layers(*p.final)[:-2]
                    fresh["floor"].append(download_floor(reg, p.final[0], needed))
                    fresh["floor_layers"].append(sum(size for _, size in needed))
            for p in warmed:
                print("bench: run %d/%d scenario 7 one file changed %s" % (run + 1, args.runs,
                                                                           p.name), flush=True)
                attempt("7c", p.name, lambda: p.fresh(reg, ctx, df, "partial"), reg)
        except (Failed, subprocess.CalledProcessError, OSError) as e:
            failures.append(("7", "setup", describe(e)))
            print("bench: scenario 7 run %d could not go on: %s" % (run + 1, describe(e)),
                  flush=True)
        finally:
            if reg:
                reg.stop()
            remove_tree(run_dir)
            for p in peers:
                remove_tree(p.dir)
    remove_tree(top)
    return fresh


def plan_300_stages(work):
    lines = []
    for s in range(300):
        lines.append("FROM bench-base:latest AS s%d" % s)
        for i in range(9):
            lines.append("RUN echo stage %d step %d" % (s, i))
    path = dockerfile(work, "plan", "\n".join(lines) + "\n")
    return timed([MKIMG, "build", "--dry-run", "-f", path, work])


NAMES = {1: "1 cold build", "1n": "1 --no-cache, warm store", 2: "2 no-op rebuild", 3: "3 one-file change",
         4: "4 RUN snapshot 200MB root", "4t": "4 RUN snapshot 2MB root", 5: "5 COPY 500MB",
         6: "6 parse+plan 300 stages", "7": "7 fresh CI runner",
         "7w": "7 warm job (fills cache)", "7a": "7 fresh runner, cached",
         "7b": "7 fresh runner, no cache", "7r": "7 warm store, 1 file", "7c": "7 fresh runner, 1 file"}
ORDER = [1, "1n", 2, 3, 4, "4t", 5, 6, "7", "7w", "7a", "7b", "7r", "7c"]

# scenario -> [(peer or floor, the largest acceptable mkimg/peer ratio)]
TARGETS = {1: [("docker", 0.5), ("buildah", 0.5)], "1n": [("docker", 0.4)],
           2: [("docker", 0.25), ("buildah", 0.05)], 3: [("docker", 0.5), ("buildah", 0.5)],
           4: [("floor: bare runc run", 1.5)], 5: [("floor: tar|pigz -6", 1.3)]}
RSS_TARGET_MIB = 200


def name_scale_scenarios(sizes, mb):
    """Scenarios 8 and 9 in the table: one row group per measure and size."""
    NAMES.update({"8": "8 scale series", "9": "9 large steps"})
    ORDER.extend(["8", "9"])
    for measure, label in SCALE_MEASURES:
        for n in sizes:
            NAMES[scale_key(measure, n)] = "8 %s, %s files" % (label, format(n, ","))
            ORDER.append(scale_key(measure, n))
    NAMES.update({"9r": "9 RUN writes %dMB" % mb, "9b": "9 RUN on %dMB base" % (2 * mb),
                  "9t": "9 RUN on busybox base"})
    ORDER.extend(["9r", "9b", "9t"])


def report_scale(results, floors, sizes):
    """Scenario 8: each tool's medians by context size and its growth factor."""
    if not sizes or not any(scale_key(m, n) in results for m, _ in SCALE_MEASURES
                            for n in sizes):
        return
    print("\nscenario 8 by context size (medians, s; growth = time at %s files / time at %s "
          "files;\npeak MiB = the largest peak RSS over the sizes):" % (
              format(sizes[-1], ","), format(sizes[0], ",")))
    print("%-9s %-19s" % ("measure", "tool") +
          "".join(" %11s" % format(n, ",") for n in sizes) + " %8s %9s" % ("growth", "peak MiB"))

    def row(label, name, values, rss):
        growth = "%.2fx" % (values[-1] / values[0]) if values[0] and values[-1] else "?"
        print("%-9s %-19s" % (label, name) +
              "".join(" %11s" % ("%.3f" % v if v is not None else "-") for v in values) +
              " %8s %9s" % (growth, rss))

    for measure, label in SCALE_MEASURES:
        for name in SCALE_TOOLS:
            values = [median_of(results, scale_key(measure, n), name) for n in sizes]
            if all(v is None for v in values):
                continue
            rss = [r for n in sizes for _, r in results.get(scale_key(measure, n), {})
                   .get(name, [])]
            row(label, name, values,
                "n/a" if name == "docker" or not rss else "%.1f" % max(rss))
        if measure == "n":
            values = [statistics.median(floors[scale_key("n", n)]["find -printf"])
                      if scale_key("n", n) in floors else None for n in sizes]
            row(label, "floor: find -printf", values, "")
        if measure == "f":
            values = [statistics.median(floors[scale_key("f", n)][ONE_FILE_FLOOR])
                      if ONE_FILE_FLOOR in floors.get(scale_key("f", n), {}) else None
                      for n in sizes]
            row(label, "floor: walk+sha+run", values, "")


def target_line(label, what, limit, value, unit="x"):
    print("  %-27s %-34s <= %.2f%s: %.2f%s %s" % (label, what, limit, unit, value, unit,
                                                  "met" if value <= limit else "NOT MET"))


def report_scale_targets(results, floors, sizes):
    """Issue #18's targets for scenario 8, at the largest size measured."""
    if not sizes:
        return
    small, large = sizes[0], sizes[-1]
    if (small, large) != (10000, 100000):
        print("  (scenario 8 ran %s..%s files: the targets below are issue #18's for "
              "10,000..100,000, printed at %s)" % (format(small, ","), format(large, ","),
                                                   format(large, ",")))
    one = median_of(results, scale_key("f", large), "mkimg")
    one_small = median_of(results, scale_key("f", small), "mkimg")
    noop = median_of(results, scale_key("n", large), "mkimg")
    cold = median_of(results, scale_key("c", large), "mkimg")
    label = NAMES[scale_key("f", large)]
    if one is not None:
        target_line(label, "mkimg", 1.0, one, " s")
    for key, limit, value in ((scale_key("f", large), 0.05, one),
                              (scale_key("c", large), 0.25, cold)):
        docker = median_of(results, key, "docker")
        if value is not None and docker:
            target_line(NAMES[key], "mkimg/docker", limit, value / docker)
        elif value is not None:
            print("  %-27s %-34s : docker not measured" % (NAMES[key], "mkimg/docker"))
    if one is not None and one_small:
        target_line("8 one-file, growth", "mkimg %s -> %s files" % (
            format(small, ","), format(large, ",")), 2.0, one / one_small)
    floor = [floors.get(scale_key("f", n), {}).get(ONE_FILE_FLOOR) for n in (small, large)]
    if all(floor):
        small_floor, large_floor = (statistics.median(f) for f in floor)
        sizes_text = "%s -> %s files" % (format(small, ","), format(large, ","))
        print("  %-27s %-34s : %.2fx (%s)" % ("8 one-file, growth", "floor " + sizes_text,
                                              large_floor / small_floor, ONE_FILE_FLOOR))
        if one_small:
            # The best growth mkimg could show: at the large size nothing per file but the
            # floor's, and all it spends over the floor at the small size (its constant costs,
            # and its per-file costs there too) spent again.
            best = (large_floor + max(one_small - small_floor, 0.0)) / one_small
            print("  %-27s %-34s : %.2fx ((floor %s + mkimg %s - floor %s) / mkimg %s)" % (
                "8 one-file, growth", "best reachable " + sizes_text, best, format(large, ","),
                format(small, ","), format(small, ","), format(small, ",")))
    find = floors.get(scale_key("n", large), {}).get("find -printf")
    if noop is not None and find:
        target_line(NAMES[scale_key("n", large)], "mkimg/floor: find -printf", 1.0,
                    noop / statistics.median(find))


def report_large_targets(results, floors):
    """Issue #18's targets for scenario 9: within 1.3x of the floor, peak RSS under 200 MiB."""
    run = median_of(results, "9r", "mkimg")
    floor = floors.get("9r", {}).get("tar -x + tar|pigz -6")
    if run is not None and floor:
        target_line(NAMES["9r"], "mkimg/floor: tar -x + tar|pigz -6", 1.3,
                    run / statistics.median(floor))
    base = median_of(results, "9b", "mkimg")
    runc = floors.get("9b", {}).get("bare runc run")
    if base is not None and runc:
        target_line(NAMES["9b"], "mkimg/floor: bare runc run", 1.3,
                    base / statistics.median(runc))
    small = median_of(results, "9t", "mkimg")
    if base is not None and small:
        # Scenario 4's target (the same time on a large root as on a small one).
        target_line(NAMES["9b"], "mkimg on it / on busybox base", 1.25, base / small)
    for key in ("9r", "9b"):
        values = results.get(key, {}).get("mkimg")
        if values:
            peak = max(r for _, r in values)
            print("  %-27s %-34s < %d MiB: %.1f MiB %s" % (
                NAMES[key], "mkimg peak RSS", RSS_TARGET_MIB, peak,
                "met" if peak < RSS_TARGET_MIB else "NOT MET"))


def median_of(results, scenario, tool):
    values = results.get(scenario, {}).get(tool)
    return statistics.median(t for t, _ in values) if values else None


def report_fresh_bytes(fresh):
    """Scenario 7: what each measured build moved through the registry."""
    if not fresh or not fresh["bytes"]:
        return
    print("\nscenario 7 through the registry, per build (medians; MB = 10^6 bytes; final = the"
          "\nlayers of the tool's own image of this build, as pushed):")
    print("%-27s %-16s %12s %12s %12s %6s %10s" % ("scenario", "tool", "layers down",
                                                  "other down", "layers up", "mounts",
                                                  "final"))
    for key in ("7a", "7b", "7c"):
        for name, moves in fresh["bytes"].get(key, {}).items():
            def med(field):
                return statistics.median(m[field] for m in moves)
            final = fresh["final"].get(name.split()[0])
            print("%-27s %-16s %9.1f MB %9.1f kB %9.1f MB %6d %10s" % (
                NAMES[key], name, med("down_layers") / 1e6, med("down_other") / 1e3,
                med("up_layers") / 1e6, med("mounts"),
                "%.1f MB" % (statistics.median(final) / 1e6) if final else "?"))
    if fresh["floor"]:
        print("%-27s %-16s %9.3f s to fetch %.1f MB: the layers COPY needs (one curl)" % (
            NAMES["7c"], "floor: download", statistics.median(fresh["floor"]),
            statistics.median(fresh["floor_layers"]) / 1e6))


def report_fresh_targets(results, fresh):
    """Scenario 7's targets, from the medians of this run."""
    if not fresh or "7a" not in results:
        return

    def line(label, what, limit, value):
        print("  %-27s %-38s <= %.2fx: %.2fx %s" % (label, what, limit, value,
                                                   "met" if value <= limit else "NOT MET"))
    cold = median_of(results, "7b", "mkimg")
    peers = sorted((median_of(results, "7a", n), n) for n in ("buildah", "docker")
                   if median_of(results, "7a", n))
    for name in ("mkimg", "mkimg push-only"):
        seconds = median_of(results, "7a", name)
        if seconds is None:
            continue
        if cold:
            line(NAMES["7a"], "%s / mkimg no cache" % name, 0.30, seconds / cold)
        if peers:
            line(NAMES["7a"], "%s / %s (best peer)" % (name, peers[0][1]), 0.50,
                 seconds / peers[0][0])
        else:
            print("  %-27s %s / best peer: no peer measured" % (NAMES["7a"], name))
    moved = fresh["bytes"].get("7a", {})
    final = fresh["final"].get("mkimg")
    if "mkimg" in moved and final:
        # Layer bytes against the image's layers; the manifests, configs and cache entries
        # a runner must read to know what to fetch (a few kB) are shown beside them.
        down = statistics.median(m["down_layers"] for m in moved["mkimg"])
        other = statistics.median(m["down_other"] for m in moved["mkimg"])
        final = statistics.median(final)
        print("  %-27s %-38s <= %.1f MB: %.1f MB %s (and %.1f kB of manifests, configs, "
              "entries)" % (NAMES["7a"], "mkimg layers downloaded vs final layers", final / 1e6,
                            down / 1e6, "met" if down <= final else "NOT MET", other / 1e3))
    if "mkimg push-only" in moved:
        down = statistics.median(m["down_layers"] for m in moved["mkimg push-only"])
        print("  %-27s %-38s == 0 MB: %.1f MB %s" % (
            NAMES["7a"], "mkimg push-only layers downloaded", down / 1e6,
            "met" if down == 0 else "NOT MET"))
    partial, warm = median_of(results, "7c", "mkimg"), median_of(results, "7r", "mkimg")
    if partial is not None and warm is not None and fresh["floor"]:
        floor = statistics.median(fresh["floor"])
        print("  %-27s %-38s <= %.3f s (%.3f + %.3f): %.3f s %s" % (
            NAMES["7c"], "mkimg vs warm store + download", warm + floor, warm, floor, partial,
            "met" if partial <= warm + floor else "NOT MET"))


def report(results, floors, failures, digests, fresh=None, scale=None, large=None):
    print("\n%-27s %-27s %9s %9s %s" % ("scenario", "tool", "median s", "peak MiB", "ratio"))
    ratios = {}
    for scenario in [s for s in ORDER if s in results or s in {f for f, _, _ in failures}]:
        by_tool = results.get(scenario, {})
        mk = statistics.median(t for t, _ in by_tool["mkimg"]) if "mkimg" in by_tool else None
        for name, values in by_tool.items():
            median = statistics.median(t for t, _ in values)
            # The docker client's RSS says nothing: the work happens in dockerd.
            rss = "n/a" if name == "docker" else "%.1f" % max(r for _, r in values)
            ratio = ""
            if mk and name not in ("mkimg", "mkimg push-only"):
                ratios[(scenario, name)] = mk / median
                ratio = "mkimg/%s = %.2fx" % (name, mk / median)
            print("%-27s %-27s %9.3f %9s %s (n=%d)" % (NAMES[scenario], name, median, rss,
                                                       ratio, len(values)))
        for floor, values in floors.get(scenario, {}).items():
            seconds = statistics.median(values)
            ratio = ""
            if mk:
                ratios[(scenario, "floor: " + floor)] = mk / seconds
                ratio = "mkimg/floor = %.2fx" % (mk / seconds)
            print("%-27s %-27s %9.3f %9s %s" % (NAMES[scenario], "floor: " + floor, seconds, "",
                                                ratio))
        for s, name, _ in failures:
            if s == scenario:
                print("%-27s %-27s %9s %9s" % (NAMES[scenario], name, "FAILED", ""))
    report_fresh_bytes(fresh)
    report_scale(results, floors, scale)
    print("\ntargets (mkimg medians of this run):")
    for scenario, targets in sorted(TARGETS.items(), key=lambda t: ORDER.index(t[0])):
        for peer, limit in targets:
            if (scenario, peer) in ratios:
                value = ratios[(scenario, peer)]
                print("  %-27s mkimg/%-20s <= %.2fx: %.2fx %s" % (
                    NAMES[scenario], peer, limit, value, "met" if value <= limit else "NOT MET"))
    for scenario in (1, 2, 3):
        by_tool = results.get(scenario, {})
        if "mkimg" in by_tool and "mkimg-rootless" in by_tool:
            value = (statistics.median(t for t, _ in by_tool["mkimg-rootless"]) /
                     statistics.median(t for t, _ in by_tool["mkimg"]))
            print("  %-27s mkimg-rootless/mkimg       <= 1.20x: %.2fx %s" % (
                NAMES[scenario], value, "met" if value <= 1.2 else "NOT MET"))
    if "mkimg" in results.get(4, {}) and "mkimg" in results.get("4t", {}):
        big = statistics.median(t for t, _ in results[4]["mkimg"])
        tiny = statistics.median(t for t, _ in results["4t"]["mkimg"])
        print("  %-27s mkimg 200MB root / 2MB root <= 1.25x: %.2fx %s" % (
            "4 snapshot vs root size", big / tiny, "met" if big / tiny <= 1.25 else "NOT MET"))
    report_fresh_targets(results, fresh)
    report_scale_targets(results, floors, scale)
    if large:
        report_large_targets(results, floors)
    rss = [(s, max(r for _, r in by["mkimg"])) for s, by in results.items() if "mkimg" in by]
    if rss:
        worst = max(rss, key=lambda x: x[1])
        print("  %-27s peak RSS < %d MiB: %.1f MiB (scenario %s) %s" % (
            "mkimg memory", RSS_TARGET_MIB, worst[1], worst[0],
            "met" if worst[1] < RSS_TARGET_MIB else "NOT MET"))
    if digests:
        same = len(set(digests)) == 1 and "?" not in digests
        print("  %-27s same layer digest every run: %s (%s)" % (
            NAMES[5], "met" if same else "NOT MET", ", ".join(d[:19] for d in digests)))
    for scenario, name, message in failures:
        print("\nFAILED: scenario %s, %s: %s" % (scenario, name, message))


if __name__ == "__main__":
    sys.exit(main())
