#!/usr/bin/env python3
"""no_userns.py UID GID PROGRAM [ARG...]: runs PROGRAM as UID:GID in a user namespace (ids
0-499999 mapped to themselves) whose user.max_user_namespaces is 0, so the program can create
no user namespace of its own: unprivileged user namespaces disabled, for real, for one process
tree and nothing else on the machine. Run as root; exits with the program's status."""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000


def main():
    uid, gid, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if libc.unshare(CLONE_NEWUSER) != 0:
            os._exit(125)
        os.write(ready_w, b"u")
        os.read(go_r, 1)
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        os.execvp(argv[0], argv)
    os.read(ready_r, 1)
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write("0 0 500000\n")
    os.write(go_w, b"g")
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
