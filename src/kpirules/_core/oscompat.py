"""What differs between Windows and POSIX systems on the paths kpirules takes: syncing a
folder after a rename, a reader that went away, and the console's encoding."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import TextIO


def sync_folder(folder: Path) -> bool:
    """Flush a folder's entries to disk (after a rename in it); True when it was done.

    Only POSIX systems can open a folder to sync it: where ``os.O_DIRECTORY`` is missing
    (Windows) the step is skipped, as it is when the folder cannot be opened or synced
    (some network and FUSE file systems); the rename itself has already happened.
    """
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None or os.name == "nt":
        return False
    try:
        handle = os.open(folder, os.O_RDONLY | flag)
    except OSError:
        return False
    try:
        os.fsync(handle)
    except OSError:
        return False
    finally:
        os.close(handle)
    return True


def private_file_note() -> str:
    """How private a file written with mode 0600 is, in words for the person who wrote it.

    Windows ignores the permission bits (only "read-only" is kept): there the folder's
    access rights decide who can read the file.
    """
    if sys.platform == "win32":
        return "Windows 不按权限位限制读取：请放在只有本人能打开的文件夹中"
    return "仅本人可读"


#: Windows errors that errno cannot tell apart from a missing permission (both EACCES).
_WINDOWS_REASONS = {
    32: "文件正被其他程序打开（如 Excel 或 WPS）：请先关闭它再试",  # ERROR_SHARING_VIOLATION
    33: "文件的一部分被其他程序锁定（如 Excel 或 WPS）：请先关闭它再试",  # ERROR_LOCK_VIOLATION
}


def windows_reason(exc: OSError) -> str | None:
    """Why a file could not be written, when Windows says more than errno does; else None."""
    code = getattr(exc, "winerror", None)
    return _WINDOWS_REASONS.get(code) if isinstance(code, int) else None


def reader_gone(exc: OSError) -> bool:
    """Whether writing failed because the reader of our output went away (``| head``).

    POSIX says so with ``EPIPE`` (:class:`BrokenPipeError`); Windows with ``EINVAL`` on the
    standard output, which names no file (a bad file name also gives ``EINVAL``, with it).
    """
    if isinstance(exc, BrokenPipeError):
        return True
    return sys.platform == "win32" and exc.errno == errno.EINVAL and exc.filename is None


def utf8_console(*streams: TextIO | None) -> None:
    """Write UTF-8 on these streams whatever the console's code page (GBK on Chinese
    Windows); a character that cannot be written (a lone surrogate from a file name) is
    shown as an escape instead of ending the command."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(encoding="utf-8", errors="backslashreplace")
