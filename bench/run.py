#!/usr/bin/env python3
"""mkimg against its peers: one command that prepares inputs, runs every scenario with mkimg,
buildah and Docker's BuildKit side by side (alternating, several runs each) and prints medians,
the ratio mkimg/peer, the physical floor where one applies, and mkimg's peak memory.

Usage (as root): bench/run.py [--runs 3] [--scenarios 1,2,3,4,5,6]
    [--tools mkimg,mkimg-rootless,buildah,docker]
Inputs are cached under /var/cache/mkimg-bench (a debootstrap minbase root, generated contexts).
MKIMG_BENCH_BINARY overrides the mkimg measured (default: build/mkimg).
It never asserts a timing; a peer that cannot run is reported as missing, never faked.
"""
import argparse
import os
import pwd
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
MKIMG = os.environ.get("MKIMG_BENCH_BINARY", os.path.join(SOURCE, "build", "mkimg"))


def sh(cmd, check=True, quiet=True, env=None, cwd=None):
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, stdout=out,
                          stderr=subprocess.PIPE if quiet else None, env=env, cwd=cwd)


class Failed(Exception):
    """A measured command failed: reported in the table, never hidden."""


def timed(cmd, env=None, cwd=None):
    """Runs cmd, returns (seconds, peak RSS in MiB of the largest process of the tree).
    The RSS comes from /usr/bin/time's last stderr line (`RSS <KiB>`), so the command's own
    stderr cannot be mistaken for it."""
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-f", "RSS %M"] + cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    elapsed = time.monotonic() - start
    lines = proc.stderr.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith("RSS "):
        raise Failed("exit %d: %s\n%s" % (proc.returncode, " ".join(cmd),
                                            "\n".join(lines[-15:])))
    return elapsed, int(lines[-1].split()[1]) / 1024.0


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
        # How mkimg is started: through setpriv, as mkimg-rootless is, so that both pay the
        # same launcher (for root setpriv changes nothing; it costs one exec, 1-5 ms here).
        self.prefix = ["setpriv", "--reuid=0", "--regid=0", "--clear-groups", MKIMG]

    def mkimg(self, *args):
        return self.prefix + ["--root", self.root] + list(args)

    def available(self):
        return os.access(MKIMG, os.X_OK) and subprocess.run(
            [MKIMG, "build", "--help"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0

    def load_base(self, tar):
        self.base_tar = tar
        shutil.rmtree(self.root, ignore_errors=True)
        sh(self.mkimg("import", tar, "bench-base:latest"))
        sh(self.mkimg("import", tiny_root(os.path.dirname(self.root)), "bench-tiny:latest"))

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = self.mkimg("build", "--progress", "quiet", "-f", dockerfile, "-t", tag, context)
        if no_cache:
            cmd.insert(cmd.index("build") + 1, "--no-cache")
        return timed(cmd)

    def reset(self):
        self.load_base(self.base_tar)


class MkimgRootless(Mkimg):
    """mkimg run by an ordinary user (scripts/make-rootless-user.sh makes `mkimg-bench` with a
    subordinate range): it builds in a user namespace of its own. Started through setpriv, as
    the root mkimg is."""
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
        self.prefix = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                       "--clear-groups", binary]
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
        sh(self.mkimg("load", "-i", out))
        # Root's import leaves the base unpacked; a load does not: unpack it here, so that both
        # start scenario 1 from the same state.
        for base in ("bench-base", "bench-tiny"):
            df = dockerfile(self.home, "unpack-" + base, "FROM %s:latest\nRUN true\n" % base)
            sh(self.mkimg("build", "--progress", "quiet", "-f", df, self.home))


class Buildah(Tool):
    """Debian's buildah with its own overlay storage under the work directory, `bud --layers`,
    RUN through runc (OCI isolation, like mkimg)."""
    name = "buildah"

    def __init__(self, work):
        self.dir = os.path.join(work, "buildah")
        self.global_flags = ["--root", os.path.join(self.dir, "storage"), "--runroot",
                             os.path.join(self.dir, "run"), "--storage-driver", "overlay"]

    def cmd(self, *args):
        return ["buildah"] + self.global_flags + list(args)

    def out(self, *args):
        return subprocess.run(self.cmd(*args), capture_output=True, text=True).stdout.strip()

    def available(self):
        return shutil.which("buildah") is not None and shutil.which("runc") is not None

    def load_base(self, tar):
        sh(self.cmd("rmi", "-a", "-f"), check=False)
        # buildah has no import: commit a scratch container holding the root.
        ctr = self.out("from", "scratch")
        mnt = self.out("mount", ctr)
        sh(["tar", "-C", mnt, "--numeric-owner", "-xf", tar])
        sh(self.cmd("umount", ctr))
        sh(self.cmd("commit", "--rm", "-q", ctr, "bench-base:latest"))
        self.base_id = self.out("images", "-q", "--no-trunc", "bench-base:latest")

    def build(self, context, dockerfile, tag, no_cache=False):
        cmd = self.cmd("bud", "--layers", "--isolation", "oci", "--runtime", "runc",
                       "--network", "host", "-f", dockerfile, "-t", tag, "--quiet", context)
        if no_cache:
            cmd.insert(cmd.index("bud") + 1, "--no-cache")
        return timed(cmd)

    def reset(self):
        sh(self.cmd("rm", "-a"), check=False)
        for _ in range(5):  # children first: repeat until only the base is left
            images = set(self.out("images", "-a", "-q", "--no-trunc").split()) - {self.base_id}
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
        base = subprocess.run(self.client() + ["images", "-q", "bench-base:latest"],
                              capture_output=True, text=True).stdout.strip()
        for image in set(images) - {base}:
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


def floor_runc(root, command):
    """A bare `runc run` of the same command on the same root (written in place, then undone)."""
    import json
    with tempfile.TemporaryDirectory(dir="/var/tmp") as bundle:
        sh(["runc", "spec", "--bundle", bundle])
        cfg_path = os.path.join(bundle, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["root"] = {"path": root, "readonly": False}
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["/bin/sh", "-c", command]
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "network"]
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        times = []
        for i in range(3):
            start = time.monotonic()
            sh(["runc", "run", "--bundle", bundle, "mkimg-bench-floor-%d-%d" % (os.getpid(), i)])
            times.append(time.monotonic() - start)
        return statistics.median(times)


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
    parser.add_argument("--scenarios", default="1,2,3,4,5,6")
    parser.add_argument("--tools", default="mkimg,mkimg-rootless,buildah,docker")
    parser.add_argument("--work", default="/var/tmp/mkimg-bench-work")
    args = parser.parse_args()
    wanted = {int(s) for s in args.scenarios.split(",")}

    subprocess.run([os.path.join(SOURCE, "scripts", "install-deps.sh")], check=True,
                   env=dict(os.environ, MKIMG_BENCH="1"))
    if not os.access(MKIMG, os.X_OK):
        sh([os.path.join(SOURCE, "scripts", "build.sh")], quiet=False)
    clean_work(args.work)
    os.makedirs(args.work)
    root, base_tar = debian_root()
    ctx50, ctx500 = scenario_contexts(args.work)
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
                tool.load_base(base_tar)
            except (subprocess.CalledProcessError, Failed) as e:
                print("bench: %s cannot load the base image - not measured: %s %s" % (
                    tool.name, e, getattr(e, "stderr", b"")))
                tool.stop()
                continue
            tools.append(tool)
        results, floors, failures, digests = run_scenarios(args, tools, wanted, root, ctx50,
                                                           ctx500)
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

    report(results, floors, failures, digests)
    return 1 if failures else 0


def mkimg_layer_digest(tool, tag):
    out = subprocess.run([MKIMG, "--root", tool.root, "inspect", tag], capture_output=True,
                         text=True).stdout
    import json
    try:
        return json.loads(out)[0]["Manifest"]["layers"][-1]["digest"]
    except (ValueError, LookupError, TypeError):
        return "?"


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

    def measure(scenario, tool, *build_args, **kwargs):
        try:
            value = tool.build(*build_args, **kwargs)
        except Failed as e:
            failures.append((scenario, tool.name, str(e)))
            print("bench: %s scenario %s FAILED: %s" % (tool.name, scenario, e), flush=True)
            return None
        results.setdefault(scenario, {}).setdefault(tool.name, []).append(value)
        return value

    for run in range(args.runs):
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
            if 4 in wanted:
                measure(4, tool, empty, df_snap, "bench-snap:latest", no_cache=True)
            if 5 in wanted:
                if measure(5, tool, ctx500, df_big, "bench-big:latest", no_cache=True) and \
                        tool.name == "mkimg":
                    digests.append(mkimg_layer_digest(tool, "bench-big:latest"))
            if 4 in wanted and tool.name == "mkimg":
                measure("4t", tool, empty, df_tiny, "bench-tiny-snap:latest", no_cache=True)
        # The floors are measured in every run too, under the same load as the tools.
        if 4 in wanted:
            floors.setdefault(4, {}).setdefault("bare runc run", []).append(
                floor_runc(root, SNAP_COMMAND))
            os.unlink(os.path.join(root, "etc", "bench-one-file"))
        if 5 in wanted:
            for name, seconds in floor_compress(ctx500).items():
                floors.setdefault(5, {}).setdefault(name, []).append(seconds)
    return results, floors, failures, digests


def plan_300_stages(work):
    lines = []
    for s in range(300):
        lines.append("FROM bench-base:latest AS s%d" % s)
        for i in range(9):
            lines.append("RUN echo stage %d step %d" % (s, i))
    path = dockerfile(work, "plan", "\n".join(lines) + "\n")
    return timed([MKIMG, "build", "--dry-run", "-f", path, work])


NAMES = {1: "1 cold build", 2: "2 no-op rebuild", 3: "3 one-file change",
         4: "4 RUN snapshot 200MB root", "4t": "4 RUN snapshot 2MB root", 5: "5 COPY 500MB",
         6: "6 parse+plan 300 stages"}
ORDER = [1, 2, 3, 4, "4t", 5, 6]

# scenario -> [(peer or floor, the largest acceptable mkimg/peer ratio)]
TARGETS = {1: [("docker", 0.5), ("buildah", 0.5)], 2: [("docker", 0.25), ("buildah", 0.05)],
           3: [("docker", 0.5), ("buildah", 0.5)], 4: [("floor: bare runc run", 2.0)],
           5: [("floor: tar|pigz -6", 1.3)]}
RSS_TARGET_MIB = 200


def report(results, floors, failures, digests):
    print("\n%-27s %-22s %9s %9s %s" % ("scenario", "tool", "median s", "peak MiB", "ratio"))
    ratios = {}
    for scenario in [s for s in ORDER if s in results or s in {f for f, _, _ in failures}]:
        by_tool = results.get(scenario, {})
        mk = statistics.median(t for t, _ in by_tool["mkimg"]) if "mkimg" in by_tool else None
        for name, values in by_tool.items():
            median = statistics.median(t for t, _ in values)
            # The docker client's RSS says nothing: the work happens in dockerd.
            rss = "n/a" if name == "docker" else "%.1f" % max(r for _, r in values)
            ratio = ""
            if mk and name != "mkimg":
                ratios[(scenario, name)] = mk / median
                ratio = "mkimg/%s = %.2fx" % (name, mk / median)
            print("%-27s %-22s %9.3f %9s %s (n=%d)" % (NAMES[scenario], name, median, rss,
                                                       ratio, len(values)))
        for floor, values in floors.get(scenario, {}).items():
            seconds = statistics.median(values)
            ratio = ""
            if mk:
                ratios[(scenario, "floor: " + floor)] = mk / seconds
                ratio = "mkimg/floor = %.2fx" % (mk / seconds)
            print("%-27s %-22s %9.3f %9s %s" % (NAMES[scenario], "floor: " + floor, seconds, "",
                                                ratio))
        for s, name, _ in failures:
            if s == scenario:
                print("%-27s %-22s %9s %9s" % (NAMES[scenario], name, "FAILED", ""))
    print("\ntargets (mkimg medians of this run):")
    for scenario, targets in sorted(TARGETS.items()):
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
