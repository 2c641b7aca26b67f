"""Replace a folder by a fully written one in one step, so that a reader, a failure or a killed process finds the
old folder or the new one at the destination: never a mix, never nothing.

The new folder is written beside the destination (same file system) and swapped in with Linux's
`renameat2(RENAME_EXCHANGE)`, one system call; Python's `os` has no such call, hence ctypes. Where the system or the
file system lacks it, two renames (destination aside, new folder in) leave a window of microseconds without it.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

AT_FDCWD = -100  # <fcntl.h>: paths relative to the working directory
RENAME_EXCHANGE = 2  # <linux/fs.h>


def staging_folder(destination: Path) -> Path:
    """An empty folder beside `destination` (`.NAME.partial`, what a killed write left there is removed first), for
    writing what will replace it. One writer per destination at a time, as for a run directory."""
    staged = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    return staged


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically; False where this system or file system cannot."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library without it
        return False
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def replace_folder(staged: Path, destination: Path) -> None:
    """Put the fully written folder `staged` at `destination` and delete the folder it replaces."""
    if not destination.exists():
        os.replace(staged, destination)
        return
    if _exchange(staged, destination):
        shutil.rmtree(staged)  # the old folder, now at the staged path
        return
    aside = destination.with_name(f".{destination.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(destination, aside)
    os.replace(staged, destination)
    shutil.rmtree(aside)
