#!/usr/bin/env python3
"""mkimg against its peers: one command that prepares inputs, runs every scenario with mkimg,
buildah and Docker's BuildKit side by side (alternating, several runs each) and prints medians,
the ratio mkimg/peer, the physical floor where one applies, and mkimg's peak memory.

Usage (as root): bench/run.py [--runs 3] [--scenarios 1,2,3,4,5,6] [--tools mkimg,buildah,docker]
Inputs are cached under /var/cache/mkimg-bench (a debootstrap minbase root, generated contexts).
It never asserts a timing; a peer that cannot run is reported as missing, never faked.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
CACHE = os.environ.get("MKIMG_BENCH_CACHE", "/var/cache/mkimg-bench")
MKIMG = os.path.join(SOURCE, "build", "builder", "mkimg")


def sh(cmd, check=True, quiet=True, env=None, cwd=None):
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, stdout=out,
                          stderr=subprocess.PIPE if quiet else None, env=env, cwd=cwd)


def timed(cmd, env=None, cwd=None):
    """Runs cmd, returns (seconds, peak RSS in MiB of the process tree's largest member)."""
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("failed: %s\n%s" % (" ".join(cmd), proc.stderr[-3000:]))
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return elapsed, rss_kib / 1024.0


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


# ---------------------------------------------------------------- tools

class Tool:
    name = "?"

    def available(self):
        return True

    def load_base(self, tar):
        pass

    def build(self, context, dockerfile, tag, no_cache=False):
        raise NotImplementedError

    def reset(self):
        """Forget every build cache (the base stays)."""


class Mkimg(Tool):
    name = "mkimg"

    def __init__(self, work):
        self.root = os.path.join(work, "mkimg-store")
        self.base_tar = None

    def available(self):
        return os.access(MKIMG, os.X_OK) and subprocess.run(
            [MKIMG, "build", "--help"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0

    def load_base(self, tar):
        self.base_tar = tar
        shutil.rmtree(self.root, ignore_errors=True)
        sh([MKIMG, "--root", self.root, "import", tar, "bench-base:latest"])

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = [MKIMG, "--root", self.root, "build", "--progress", "quiet", "-f", dockerfile,
               "-t", tag, context]
        if no_cache:
            cmd.insert(4, "--no-cache")
        return timed(cmd)

    def reset(self):
        self.load_base(self.base_tar)


class Buildah(Tool):
    name = "buildah"

    def __init__(self, work):
        self.env = dict(os.environ, STORAGE_DRIVER="overlay")

    def available(self):
        return shutil.which("buildah") is not None

    def load_base(self, tar):
        sh("buildah rmi -a -f", check=False)
        sh(["buildah", "import", tar, "bench-base:latest"], check=False)
        if sh(["buildah", "inspect", "bench-base:latest"], check=False).returncode != 0:
            # buildah has no import: commit a scratch container holding the root.
            ctr = subprocess.run(["buildah", "from", "scratch"], capture_output=True, text=True,
                                 check=True).stdout.strip()
            mnt = subprocess.run(["buildah", "mount", ctr], capture_output=True, text=True,
                                 check=True).stdout.strip()
            sh(["tar", "-C", mnt, "-xf", tar])
            sh(["buildah", "commit", "--rm", ctr, "bench-base:latest"])

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = ["buildah", "bud", "--layers", "--isolation", "chroot", "-f", dockerfile,
               "-t", tag, "--quiet", context]
        if no_cache:
            cmd.insert(2, "--no-cache")
        return timed(cmd, env=self.env)

    def reset(self):
        sh("buildah rm -a", check=False)
        out = subprocess.run(["buildah", "images", "-q", "--no-trunc"], capture_output=True,
                             text=True).stdout.split()
        base = subprocess.run(["buildah", "inspect", "-f", "{{.FromImageID}}",
                               "bench-base:latest"], capture_output=True, text=True).stdout
        for image in out:
            if image.replace("sha256:", "") not in base:
                sh(["buildah", "rmi", "-f", image], check=False)


class Docker(Tool):
    name = "docker"

    def __init__(self, work):
        self.dir = os.path.join(work, "docker")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.proc = None

    def client(self):
        return ["docker", "-H", "unix://" + self.sock]

    def available(self):
        if not shutil.which("dockerd"):
            return False
        os.makedirs(self.dir, exist_ok=True)
        log = open(os.path.join(self.dir, "dockerd.log"), "w")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", os.path.join(self.dir, "data"), "--exec-root",
             os.path.join(self.dir, "exec"), "-H", "unix://" + self.sock, "--pidfile",
             os.path.join(self.dir, "dockerd.pid"), "--bridge=none", "--iptables=false",
             "--ip6tables=false"], stdout=log, stderr=log)
        for _ in range(60):
            if sh(self.client() + ["info"], check=False).returncode == 0:
                return True
            time.sleep(0.5)
        return False

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def load_base(self, tar):
        sh(self.client() + ["import", tar, "bench-base:latest"])

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = self.client() + ["build", "--network", "host", "-q", "-f", dockerfile, "-t", tag,
                               context]
        if no_cache:
            cmd.insert(3, "--no-cache")
        return timed(cmd, env=dict(os.environ, DOCKER_BUILDKIT="1"))

    def reset(self):
        sh(self.client() + ["builder", "prune", "-af"], check=False)
        images = subprocess.run(self.client() + ["images", "-q", "--filter",
                                                 "reference=bench-*:*"],
                                capture_output=True, text=True).stdout.split()
        base = subprocess.run(self.client() + ["images", "-q", "bench-base:latest"],
                              capture_output=True, text=True).stdout.strip()
        for image in set(images) - {base}:
            sh(self.client() + ["rmi", "-f", image], check=False)


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


def floor_compress(path):
    """tar | pigz -6 and tar | zstd -T0 -3 of the same tree, and sha256 of it."""
    floors = {}
    for name, cmd in [("tar|pigz -6", "tar -C %s -cf - . | pigz -6 > /dev/null"),
                      ("tar|zstd -T0 -3", "tar -C %s -cf - . | zstd -q -T0 -3 > /dev/null"),
                      ("tar|sha256sum", "tar -C %s -cf - . | sha256sum > /dev/null")]:
        start = time.monotonic()
        sh(cmd % path)
        floors[name] = time.monotonic() - start
    return floors


def floor_runc(root):
    """A bare `runc run` of a one-file change on the same root (read-only lower, tmpfs upper)."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as bundle:
        sh(["runc", "spec", "--bundle", bundle])
        import json
        cfg_path = os.path.join(bundle, "config.json")
        cfg = json.load(open(cfg_path))
        cfg["root"] = {"path": root, "readonly": False}
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["sh", "-c", "echo x > /tmp/bench-floor"]
        json.dump(cfg, open(cfg_path, "w"))
        times = []
        for i in range(3):
            start = time.monotonic()
            sh(["runc", "run", "--bundle", bundle, "mkimg-bench-floor-%d" % i])
            times.append(time.monotonic() - start)
        os.unlink(os.path.join(root, "tmp", "bench-floor"))
        return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="1,2,3,4,5,6")
    parser.add_argument("--tools", default="mkimg,buildah,docker")
    parser.add_argument("--work", default="/var/tmp/mkimg-bench-work")
    args = parser.parse_args()
    wanted = {int(s) for s in args.scenarios.split(",")}

    subprocess.run([os.path.join(SOURCE, "scripts", "install-deps.sh")], check=True,
                   env=dict(os.environ, MKIMG_BENCH="1"))
    if not os.access(MKIMG, os.X_OK):
        sh([os.path.join(SOURCE, "scripts", "build.sh")], quiet=False)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    root, base_tar = debian_root()
    ctx50, ctx500 = scenario_contexts(args.work)

    tools = []
    for cls in (Mkimg, Buildah, Docker):
        tool = cls(args.work)
        if tool.name not in args.tools.split(","):
            continue
        if not tool.available():
            print("bench: %s missing (cannot run here) - not measured" % tool.name)
            continue
        tool.load_base(base_tar)
        tools.append(tool)

    df_cold = dockerfile(args.work, "cold", "FROM bench-base:latest\n" + RUNS4 +
                         "COPY . /ctx\nRUN ls -R /ctx | wc -l > /count\n")
    df_snap = dockerfile(args.work, "snap", "FROM bench-base:latest\n"
                         "RUN echo changed > /etc/bench-one-file\n")
    df_big = dockerfile(args.work, "big", "FROM bench-base:latest\nCOPY . /data\n")
    results = {}  # scenario -> tool -> [(seconds, rss)]

    def record(scenario, tool, value):
        results.setdefault(scenario, {}).setdefault(tool.name, []).append(value)

    for run in range(args.runs):
        order = tools if run % 2 == 0 else list(reversed(tools))
        for tool in order:
            print("bench: run %d/%d %s" % (run + 1, args.runs, tool.name), flush=True)
            if wanted & {1, 2, 3}:
                tool.reset()
                cold = tool.build(ctx50, df_cold, "bench-cold:latest")
                if 1 in wanted:
                    record(1, tool, cold)
                if 2 in wanted:
                    record(2, tool, tool.build(ctx50, df_cold, "bench-cold:latest"))
                if 3 in wanted:
                    changed = os.path.join(ctx50, "d00", "s00", "f00000.txt")
                    with open(changed, "a") as f:
                        f.write("change %d %s\n" % (run, tool.name))
                    record(3, tool, tool.build(ctx50, df_cold, "bench-cold:latest"))
            if 4 in wanted:
                record(4, tool, tool.build(args.work, df_snap, "bench-snap:latest", no_cache=True))
            if 5 in wanted:
                record(5, tool, tool.build(ctx500, df_big, "bench-big:latest", no_cache=True))

    floors = {}
    if 4 in wanted:
        floors[4] = {"bare runc run": floor_runc(root)}
    if 5 in wanted:
        floors[5] = floor_compress(ctx500)
    if 6 in wanted and tools and tools[0].name == "mkimg":
        results[6] = {"mkimg": [plan_300_stages(args.work) for _ in range(args.runs)]}

    report(results, floors)
    for tool in tools:
        if isinstance(tool, Docker):
            tool.stop()


def plan_300_stages(work):
    lines = []
    for s in range(300):
        lines.append("FROM bench-base:latest AS s%d" % s)
        for i in range(9):
            lines.append("RUN echo stage %d step %d" % (s, i))
    path = dockerfile(work, "plan", "\n".join(lines) + "\n")
    return timed([MKIMG, "parse", path])


NAMES = {1: "cold build", 2: "no-op rebuild", 3: "one-file change", 4: "RUN snapshot, 200MB root",
         5: "COPY 500MB", 6: "parse+plan 300 stages"}


def report(results, floors):
    print("\n%-26s %-8s %9s %9s %s" % ("scenario", "tool", "median s", "peak MiB", "ratio"))
    for scenario in sorted(results):
        by_tool = results[scenario]
        mk = statistics.median(t for t, _ in by_tool["mkimg"]) if "mkimg" in by_tool else None
        for name, values in by_tool.items():
            median = statistics.median(t for t, _ in values)
            rss = max(r for _, r in values)
            ratio = "mkimg/%s = %.2fx" % (name, mk / median) if mk and name != "mkimg" else ""
            print("%-26s %-8s %9.3f %9.1f %s" % (NAMES[scenario], name, median, rss, ratio))
        for floor, seconds in floors.get(scenario, {}).items():
            ratio = "mkimg/floor = %.2fx" % (mk / seconds) if mk else ""
            print("%-26s %-8s %9.3f %9s %s" % ("", "floor: " + floor, seconds, "", ratio))


if __name__ == "__main__":
    sys.exit(main())
