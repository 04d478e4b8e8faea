"""Answers that are files: the workbook media type and the header that names the download."""

from __future__ import annotations

import re
from urllib.parse import quote

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(name: str) -> str:
    """``Content-Disposition`` for a download named ``name`` (Chinese kept for browsers that
    read ``filename*``, an ASCII stand-in for the others)."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
