# Runs in a copy of context/: archives with owners, modes, a symlink and a hardlink.
set -e
mkdir -p t/top/sub && echo one > t/top/one && echo two > t/top/sub/two
chmod 0751 t/top/sub && chmod 0640 t/top/one && ln -s one t/top/link && ln t/top/one t/top/hard
tar -C t --sort=name --numeric-owner --owner=1234 --group=5678 --mtime=@0 -cf archive.tar top
tar -C t --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -czf archive.tar.gz top
rm -rf t
