# Runs in a copy of context/: what git cannot hold.
set -e
mkfifo -m 0640 fifo
python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("sock")'
mknod -m 0600 null-dev c 1 3
mkdir sub && mkfifo sub/inner-fifo
