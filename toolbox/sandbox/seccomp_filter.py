"""The system calls sandboxed code may not make, and the bubblewrap backend's seccomp filter that refuses them.

Both backends refuse the same calls: those that create or enter namespaces (a nested user namespace hands the
code every capability over fresh namespaces, and with them the kernel's netfilter, mount and keyring code),
mount the file system, reach the keyring, load BPF, or open the kernel interfaces with a long record of
privilege escalations (userfaultfd, io_uring, perf events, ptrace), and sockets of any family but unix and
inet (netlink, vsock, the crypto API...). The container profile (`seccomp.json` beside this file) is derived
from the same lists by `seccomp_profile`.
"""

from __future__ import annotations

import errno
import os
import socket

__all__ = [
    "ALLOWED_SOCKET_FAMILIES",
    "CLONE_NAMESPACE_FLAGS",
    "DENIED_SYSCALLS",
    "REFUSED_SOCKET_FAMILIES",
    "bwrap_filter_fd",
    "filter_problem",
]

DENIED_SYSCALLS = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "perf_event_open",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
)
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. CLONE_NEWTIME (0x80) is left out: in
# clone's flags that bit is part of the exit signal, and clone cannot create a time namespace anyway.
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
ALLOWED_SOCKET_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)
# socket() takes its family as an int, so the kernel ignores the upper half of the 64-bit register a filter
# compares: a rule matching one family (== 16) lets 0xFFFFFFFF00000010 through to netlink. So the families
# are allowed exactly, and refused as every value below the largest allowed one that is not allowed, plus
# every value above it (which takes in any value with high bits set).
REFUSED_SOCKET_FAMILIES = tuple(
    f for f in range(max(ALLOWED_SOCKET_FAMILIES)) if f not in ALLOWED_SOCKET_FAMILIES
)


def _build() -> bytes:
    import pyseccomp as seccomp  # loads libseccomp through ctypes: only when a filter is built

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in CLONE_NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libc fall back to clone.
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    refuse = seccomp.ERRNO(errno.EAFNOSUPPORT)
    for family in REFUSED_SOCKET_FAMILIES:
        rules.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.EQ, family))
    rules.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.GT, max(ALLOWED_SOCKET_FAMILIES)))
    fd = os.memfd_create("troupe-seccomp-build", os.MFD_CLOEXEC)
    with os.fdopen(fd, "w+b") as program:
        rules.export_bpf(program)
        program.seek(0)
        return program.read()


_filter: bytes | None = None


def _program() -> bytes:
    global _filter
    if _filter is None:
        _filter = _build()
    return _filter


def filter_problem() -> str | None:
    """None when the filter can be built here, else why not (the backend then refuses to run code)."""
    try:
        _program()
    except (ImportError, OSError, RuntimeError, ValueError) as e:
        return f"cannot build the seccomp filter ({type(e).__name__}: {e}); install libseccomp2 and pyseccomp"
    return None


def bwrap_filter_fd() -> int:
    """A file descriptor holding the compiled filter, read from its start, for `bwrap --seccomp FD`.
    The caller passes it to bwrap and closes it."""
    fd = os.memfd_create("troupe-seccomp", os.MFD_CLOEXEC)
    os.write(fd, _program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
