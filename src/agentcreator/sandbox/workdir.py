"""A session's work directory as a size-limited tmpfs, so code cannot fill the host's disk.

The host mounts it (as root, when it may: not in a container without CAP_SYS_ADMIN, where the
directory stays a plain one, bounded only per file by RLIMIT_FSIZE). The mount outlives the
sandbox, so files survive a crash or a timeout; it is unmounted when the session ends.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MNT_DETACH = 0x2
_warned = False


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount_limited(path: Path, size_bytes: int, uid: int) -> bool:
    """Mount a tmpfs of ``size_bytes`` on ``path`` unless one is there; False when not permitted."""
    global _warned
    if os.path.ismount(path):
        return True
    options = f"size={size_bytes},mode=0700,uid={uid},gid={uid}".encode()
    if _libc().mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options) == 0:
        return True
    if not _warned:
        _warned = True
        log.warning("sandbox: cannot mount a tmpfs for work directories (%s): /mnt/data is bounded per "
                    "file only", os.strerror(ctypes.get_errno()))
    return False


def unmount(path: Path) -> None:
    if os.path.ismount(path) and _libc().umount2(os.fsencode(path), MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), f"cannot unmount {path}")
