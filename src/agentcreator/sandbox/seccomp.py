"""The seccomp filter every sandbox runs under, compiled to a BPF program by libseccomp (through the
``pyseccomp`` ctypes binding) and handed to bubblewrap with ``--seccomp FD``.

Default allow, with a deny list: the namespaces, the non-root uid and the read-only file system are
the walls; this filter takes away the kernel interfaces that attacks on those walls use (ptrace,
mounts, new namespaces, BPF, keyrings, io_uring, perf, module loading) and every socket family but
``AF_UNIX`` (whose only peers live inside the sandbox's own mount and network namespaces). Syscalls
of another ABI (i386, x32) kill the process, so the filter cannot be sidestepped through them.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache

from agentcreator.sandbox.errors import SandboxUnavailable

# Denied with EPERM.
DENIED_SYSCALLS = (
    # debugging and reading other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # mounts and namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "open_by_handle_at", "name_to_handle_at",
    # kernel surfaces with a history of privilege escalations
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "vhangup", "iopl", "ioperm",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "uselib", "lookup_dcookie",
)

# clone() flags that would make a new namespace.
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
AF_UNIX = 1


@lru_cache(maxsize=1)
def filter_program() -> bytes:
    """The compiled BPF program (a list of ``struct sock_filter``, as ``--seccomp`` reads it)."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 missing
        raise SandboxUnavailable(
            "the code interpreter needs libseccomp (Debian libseccomp2) and the pyseccomp package"
        ) from exc

    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(deny, name)
        except (ValueError, OSError):  # unknown on this architecture
            continue
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone().
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # No sockets but unix ones: no network, no netlink, no raw packets.
    rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, AF_UNIX))
    rules.add_rule(seccomp.ERRNO(errno.EACCES), "socketpair", seccomp.Arg(0, seccomp.NE, AF_UNIX))
    fd = os.memfd_create("sandbox-seccomp")
    try:
        with os.fdopen(os.dup(fd), "wb") as handle:
            rules.export_bpf(handle)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    program = b"".join(chunks)
    if not program or len(program) % 8:
        raise SandboxUnavailable("libseccomp produced no usable seccomp program")
    return program
