#!/usr/bin/python3
"""treedump.py: a canonical text dump of a container image, to compare images from two tools.

Usage:
  treedump.py SOURCE [TAG] [-o OUT]

SOURCE is a docker-archive tar (`docker save`, `mkimg save --format docker`), an oci-archive
tar, or an OCI image layout directory (`--output type=oci`, or mkimg's store `<root>/oci`).
TAG picks the image when SOURCE holds several (`busybox:latest`, `docker.io/library/x:y`).

The dump has one line per config field, then one line per path of the root file system that
results from applying the layers in order (OCI whiteouts and opaque markers honoured):

  config.Env ["A=1", "PATH=/bin"]
  /bin/busybox file 0755 0:0 size=1024 sha256=ab12...
  /bin/sh symlink 0:0 -> /bin/busybox
  /a file 0644 0:0 size=2 sha256=... text="a\\n" links=/a,/b
  /dev/null char 0666 0:0 dev=1,3

Files of at most 256 bytes of printable UTF-8 also show their text, so that a difference in
what a RUN step wrote can be read in the diff.

What is left out, on purpose, and why (everything else is compared):
- Timestamps (mtime, atime, ctime, config `created`, history): they record when a build ran.
- The permission bits of symlinks: on Linux a symlink's mode is always 0777 on disk whatever
  a tar header says, so it is not part of the tree a container sees.
- Config fields that record the build, not the image (`Hostname`, `Image`, `container`,
  `docker_version`, `rootfs`): they name build-time ids. Of `history`, each entry's
  `created_by`, `empty_layer` and `comment` are compared (one line per entry), not its time;
  the leading entries of an imported base (`docker import`, `mkimg import`: each tool records
  its import its own way) are only counted.
- Empty and absent config values are the same value (`null`, `""`, `[]`, `{}`), as in the
  OCI image spec where every one of these fields is optional; Env is shown sorted, since
  the environment is a set of unique names and its order has no meaning at run time.
- `ArgsEscaped` is compared: a Windows-only field per the OCI spec that BuildKit sets on
  Linux too, and `docker history` / tools read it.
- In Healthcheck, zero durations and retries are dropped (zero means "inherit the default").
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                 "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild", "ArgsEscaped"]
TOP_FIELDS = ["architecture", "os", "variant", "author"]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


class DumpError(Exception):
    pass


# ------------------------------------------------------------------ the file system model

class Inode:
    """One file system object; hardlinked paths share one Inode."""

    def __init__(self, kind, mode, uid, gid, size=0, digest="", target="", dev="", xattrs=None):
        self.kind, self.mode, self.uid, self.gid = kind, mode, uid, gid
        self.size, self.digest, self.target, self.dev = size, digest, target, dev
        self.xattrs = xattrs or {}
        self.text = None


def clean(name):
    """Tar entry name -> absolute path without trailing slash ('/' for the root)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DumpError("entry `%s`: path escapes the root" % name)
    return "/" + "/".join(parts)


def parent(path):
    return os.path.dirname(path) if path != "/" else None


class Tree:
    """The merged root file system: path -> Inode."""

    def __init__(self):
        self.paths = {"/": Inode("dir", 0o755, 0, 0)}

    def remove(self, path):
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.paths if p == path or p.startswith(prefix)]:
            del self.paths[p]

    def clear_children(self, path):
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.paths if p.startswith(prefix)]:
            del self.paths[p]

    def ensure_parents(self, path):
        """Missing parent directories appear as containerd creates them: 0755, root."""
        p = parent(path)
        while p and p not in self.paths:
            self.paths[p] = Inode("dir", 0o755, 0, 0)
            p = parent(p)

    def put(self, path, inode):
        old = self.paths.get(path)
        if old is not None and not (old.kind == "dir" and inode.kind == "dir"):
            self.remove(path)
        self.ensure_parents(path)
        self.paths[path] = inode


def entry_kind(member):
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.ischr():
        return "char"
    if member.isblk():
        return "block"
    if member.isfifo():
        return "fifo"
    raise DumpError("entry `%s`: unsupported tar type %r" % (member.name, member.type))


def xattrs_of(member):
    out = {}
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            out[key[len("SCHILY.xattr."):]] = value.encode("utf-8", "surrogateescape").hex()
    return out


TEXT_MAX = 256


def small_text(data):
    """A short UTF-8 file's content, shown in the dump so a difference is readable."""
    if data is None or len(data) > TEXT_MAX:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if all(c.isprintable() or c in "\n\t" for c in text) else None


def inode_of(member, stream):
    kind = entry_kind(member)
    inode = Inode(kind, member.mode & 0o7777, member.uid, member.gid, xattrs=xattrs_of(member))
    if kind == "file":
        h = hashlib.sha256()
        f = stream.extractfile(member)
        size = 0
        head = b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
            if size <= TEXT_MAX:
                head += chunk
        inode.size, inode.digest = size, h.hexdigest()
        inode.text = small_text(head if size <= TEXT_MAX else None)
    elif kind == "symlink":
        inode.target = member.linkname
    elif kind in ("char", "block"):
        inode.dev = "%d,%d" % (member.devmajor, member.devminor)
    return inode


def apply_layer(tree, fileobj):
    """Applies one uncompressed-or-gzip tar stream to the tree (OCI layer semantics)."""
    lower = set(tree.paths)
    # Names are bytes: surrogateescape keeps those that are not UTF-8 exact to the dump.
    with tarfile.open(fileobj=fileobj, mode="r|*", encoding="utf-8",
                      errors="surrogateescape") as stream:
        for member in stream:
            path = clean(member.name)
            base = os.path.basename(path)
            if base == ".wh..wh..opq":
                d = parent(path)
                for p in [p for p in tree.paths if p in lower and p.startswith(d.rstrip("/") + "/")]:
                    tree.paths.pop(p, None)
                continue
            if base.startswith(".wh."):
                victim = os.path.join(parent(path), base[4:])
                if victim in lower:
                    tree.remove(victim)
                continue
            if member.islnk():
                target = clean(member.linkname)
                if target not in tree.paths:
                    raise DumpError("entry `%s`: hardlink to missing `%s`" % (path, target))
                tree.put(path, tree.paths[target])
                continue
            tree.put(path, inode_of(member, stream))


def open_blob(path):
    """A readable stream of a layer blob, decompressing zstd through the zstd tool."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == ZSTD_MAGIC:
        proc = subprocess.Popen(["zstd", "-dcq", path], stdout=subprocess.PIPE)
        return proc.stdout, proc
    return open(path, "rb"), None


def apply_blob(tree, path):
    stream, proc = open_blob(path)
    try:
        apply_layer(tree, stream)
    finally:
        stream.close()
        if proc is not None and proc.wait() != 0:
            raise DumpError("decompress `%s`: zstd failed" % path)


# ------------------------------------------------------------------ image sources

def normalise_ref(ref):
    """busybox -> docker.io/library/busybox:latest (enough for matching tags)."""
    name, tag = ref, "latest"
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    if "/" not in name:
        name = "library/" + name
    first = name.split("/", 1)[0]
    if "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    return name + ":" + tag


def ref_matches(candidate, wanted):
    if not candidate or not wanted:
        return False
    return candidate == wanted or normalise_ref(candidate) == normalise_ref(wanted)


def load_docker_archive(root, tag):
    manifest = json.load(open(os.path.join(root, "manifest.json")))
    chosen = [m for m in manifest if not tag or any(ref_matches(t, tag) for t in m.get("RepoTags") or [])]
    if len(chosen) != 1:
        raise DumpError("find `%s` in docker archive: %d matches" % (tag, len(chosen)))
    m = chosen[0]
    config = json.load(open(os.path.join(root, m["Config"])))
    return config, [os.path.join(root, layer) for layer in m["Layers"]]


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    if not hexd.isalnum() or not algo.isalnum():
        raise DumpError("read blob `%s`: invalid digest" % digest)
    return os.path.join(layout, "blobs", algo, hexd)


def pick_manifest(layout, descriptors, tag):
    """Follows indexes down to one linux/amd64 image manifest descriptor."""
    names = ("org.opencontainers.image.ref.name", "io.containerd.image.name")
    if tag:
        tagged = [d for d in descriptors
                  if any(ref_matches((d.get("annotations") or {}).get(n), tag) for n in names)]
        if not tagged:
            short = tag.rsplit(":", 1)[-1] if ":" in tag.rsplit("/", 1)[-1] else "latest"
            tagged = [d for d in descriptors
                      if (d.get("annotations") or {}).get(names[0]) == short]
        descriptors = tagged
    if len(descriptors) > 1:
        descriptors = [d for d in descriptors
                       if (d.get("platform") or {}).get("architecture", "amd64") == "amd64"]
    if len(descriptors) != 1:
        raise DumpError("find `%s` in OCI layout: %d matches" % (tag, len(descriptors)))
    d = descriptors[0]
    doc = json.load(open(blob_path(layout, d["digest"])))
    if d.get("mediaType") in INDEX_TYPES or doc.get("manifests") is not None:
        return pick_manifest(layout, doc["manifests"], None)
    return doc


def load_oci_layout(layout, tag):
    index = json.load(open(os.path.join(layout, "index.json")))
    manifest = pick_manifest(layout, index.get("manifests") or [], tag)
    config = json.load(open(blob_path(layout, manifest["config"]["digest"])))
    return config, [blob_path(layout, layer["digest"]) for layer in manifest["layers"]]


def load(source, tag, scratch):
    if os.path.isdir(source):
        if os.path.exists(os.path.join(source, "manifest.json")):
            return load_docker_archive(source, tag)
        return load_oci_layout(source, tag)
    with tarfile.open(source) as t:
        t.extractall(scratch, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(scratch)
    return load(scratch, tag, None)


# ------------------------------------------------------------------ the dump

def canonical(value):
    if value in (None, "", [], {}):
        return None
    return value


def config_lines(config):
    lines = []
    for field in TOP_FIELDS:
        value = canonical(config.get(field))
        lines.append("image.%s %s" % (field, json.dumps(value, sort_keys=True)))
    inner = config.get("config") or config.get("Config") or {}
    for field in CONFIG_FIELDS:
        value = canonical(inner.get(field))
        if field == "Env" and value:
            value = sorted(value)
        if field == "Healthcheck" and value:
            value = {k: v for k, v in value.items() if v not in (0, None, "")}
        lines.append("config.%s %s" % (field, json.dumps(value, sort_keys=True)))
    history = config.get("history") or []
    imported = 0
    while imported < len(history) and is_import(history[imported]):
        imported += 1
    lines.append("history.base %d entries of an import left out" % imported)
    for h in history[imported:]:
        lines.append("history %s%s%s" % (
            "empty_layer " if h.get("empty_layer") else "",
            json.dumps(h.get("created_by", "")),
            " comment=" + json.dumps(h["comment"]) if h.get("comment") else ""))
    return lines


def is_import(entry):
    """The history entry of an imported root file system (the peer cases' busybox base), which
    each tool writes its own way: `docker import` none but a comment "Imported from -",
    `mkimg import` created_by "mkimg import"."""
    by = entry.get("created_by", "")
    return by == "mkimg import" or (by == "" and entry.get("comment", "").startswith("Imported from"))


def tree_lines(tree):
    groups = {}
    for path, inode in tree.paths.items():
        groups.setdefault(id(inode), []).append(path)
    lines = []
    for path in sorted(tree.paths):
        i = tree.paths[path]
        owner = "%d:%d" % (i.uid, i.gid)
        if i.kind == "symlink":
            line = "%s symlink %s -> %s" % (path, owner, i.target)
        else:
            line = "%s %s %04o %s" % (path, i.kind, i.mode, owner)
        if i.kind == "file":
            line += " size=%d sha256=%s" % (i.size, i.digest)
            if i.text is not None:
                line += " text=" + json.dumps(i.text)
        if i.dev:
            line += " dev=" + i.dev
        group = sorted(groups[id(i)])
        if len(group) > 1:
            line += " links=" + ",".join(group)
        for key in sorted(i.xattrs):
            line += " xattr.%s=%s" % (key, i.xattrs[key])
        lines.append(line)
    return lines


def dump(source, tag):
    import tempfile
    with tempfile.TemporaryDirectory(prefix="treedump-") as scratch:
        config, layers = load(source, tag, scratch)
        tree = Tree()
        for layer in layers:
            apply_blob(tree, layer)
        return "\n".join(config_lines(config) + tree_lines(tree)) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("tag", nargs="?")
    parser.add_argument("-o", "--output")
    args = parser.parse_args()
    try:
        text = dump(args.source, args.tag)
    except (DumpError, OSError, KeyError, ValueError, tarfile.TarError) as e:
        print("treedump: error: %s" % e, file=sys.stderr)
        return 1
    raw = text.encode("utf-8", "surrogateescape")  # file names exactly as the layers hold them
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "wb") as f:
            f.write(raw)
        os.rename(tmp, args.output)
    else:
        sys.stdout.buffer.write(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
