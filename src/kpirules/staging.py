"""Output written beside its final name and renamed into place once complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def count_lines(path: Path) -> int:
    """The number of data lines of a CSV file (less its header): a progress bar's total."""
    lines = 0
    with path.open("rb") as f:
        while piece := f.read(1 << 20):
            lines += piece.count(b"\n")
    return max(lines - 1, 0)


class Staged:
    """Text written to a temporary file beside ``path``, renamed over it by :meth:`publish`.

    The file gets the mode a plain write would give it (or the mode of the file it
    replaces); it is synced to disk before the rename. :meth:`discard` removes it unless it
    was published.
    """

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.path = path
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.tmp = Path(name)
        try:
            try:
                mode = path.stat().st_mode & 0o777
            except OSError:
                mask = os.umask(0)
                os.umask(mask)
                mode = 0o666 & ~mask
            self.tmp.chmod(mode)
            # Closed by publish() or discard(), which span the whole scoring run.
            self.handle = os.fdopen(fd, "w", encoding=encoding, newline="")
        except BaseException:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
            raise
        self.published = False

    def write(self, text: str) -> None:
        """Append ``text``."""
        self.handle.write(text)

    def publish(self) -> None:
        """Sync the file and rename it over ``path``; sync the folder."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.tmp.replace(self.path)
        self.published = True
        with contextlib.suppress(OSError):
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def discard(self) -> None:
        """Remove the temporary file unless it was published."""
        with contextlib.suppress(OSError):
            self.handle.close()
        if not self.published:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
