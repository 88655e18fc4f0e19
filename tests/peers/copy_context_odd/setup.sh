# Runs in a copy of context/: what git cannot hold.
set -e
echo secret > private.txt && chmod 0600 private.txt
echo suid > setuid.bin && chmod 4755 setuid.bin
echo sgid > setgid.bin && chmod 2711 setgid.bin
echo none > nothing.txt && chmod 0000 nothing.txt
echo exec > run.sh && chmod 0755 run.sh
mkdir sticky && chmod 1777 sticky
mkdir -p empty/nested-empty && chmod 0700 empty/nested-empty
mkdir odd-dir && chmod 0751 odd-dir && echo x > odd-dir/x
ln -s plain.txt link-to-file
ln -s dir link-to-dir
ln -s /etc/passwd absolute-link
ln -s does-not-exist dangling-link
ln plain.txt hardlink-to-plain
ln dir/inner.txt dir/inner-hardlink
chown 1234:5678 plain.txt
