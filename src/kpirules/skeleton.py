"""A commented ruleset skeleton in Chinese to start a new ruleset from (``kpirules new``).

The skeleton is the packaged template ``skeleton.yaml`` beside this module: a complete
ruleset with one indicator of each common scoring method, grades, outcomes, a veto and
hand-computed test cases. Only the id, title, year and cycle are filled in, so that what is
written is exactly what the template's own tests check.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
import unicodedata
from importlib import resources

#: The ``--cycle`` words of ``kpirules new`` and the ``cycle`` each writes in the ruleset.
CYCLES: dict[str, str] = {
    "annual": "year",
    "halfyear": "half_year",
    "quarterly": "quarter",
    "monthly": "month",
}

#: The id written when NAME gives no ASCII letters or digits to build one from (a Chinese title).
DEFAULT_ID = "my-ruleset"

MAX_NAME = 200

# Characters Windows refuses in a file name; NAME becomes the file name unless --output is given.
_NOT_IN_FILE_NAMES = frozenset('<>:"/\\|?*')
_SUFFIXES = (".yaml", ".yml")
# Names Windows keeps for devices: CON.yaml cannot be created there.
_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10)]
)


class SkeletonError(ValueError):
    """NAME (or the cycle) cannot make a ruleset; the message says why, in Chinese."""


def title_of(name: str) -> str:
    """The ruleset title NAME stands for: NAME without a ``.yaml``/``.yml`` ending.

    Raises:
        SkeletonError: NAME is empty, too long, or holds a line break or another control
            character (a title is one line of text).
    """
    stem = name
    for suffix in _SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if not stem.strip():
        raise SkeletonError(
            f"名称 {name!r} 是空的：请写规则集的标题，如 kpirules new 医保办年度考核"
        )
    if len(stem) > MAX_NAME:
        raise SkeletonError(f"名称太长（{len(stem)} 个字符）：标题最多 {MAX_NAME} 个字符")
    for char in stem:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            what = "换行" if char in "\r\n\u2028\u2029\x85" else f"控制字符 U+{ord(char):04X}"
            raise SkeletonError(f"名称中有{what}：规则集标题只能是一行文字")
    return stem.strip()


def ruleset_id(title: str) -> str:
    """A safe ruleset id for ``title``: its ASCII letters and digits in lower case, joined by
    ``-`` (``My KPI 2026`` gives ``my-kpi-2026``); ``my-ruleset`` when the title has any other
    letter (a Chinese title) or no ASCII letter or digit at all."""
    if any(not char.isascii() for char in title):
        return DEFAULT_ID
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or DEFAULT_ID


def default_file(title: str) -> str:
    """The file ``kpirules new`` writes without ``--output``: ``TITLE.yaml``.

    Raises:
        SkeletonError: the title cannot be a file name on Windows (a character such as ``:``,
            a device name such as ``CON``, or a trailing dot or space).
    """
    bad = sorted({char for char in title if char in _NOT_IN_FILE_NAMES})
    device = title.split(".")[0].strip().upper() in _DEVICE_NAMES
    if bad or device or title.endswith((".", " ")):
        why = (
            f"含有 {' '.join(bad)}"
            if bad
            else "是 Windows 保留的设备名"
            if device
            else "结尾是点或空格"
        )
        raise SkeletonError(
            f"名称 “{title}” 不能用作文件名（{why}）：请用 --output 指定文件名，"
            f'如 kpirules new "{title}" --output my-ruleset.yaml'
        )
    return f"{title}.yaml"


def template() -> str:
    """The skeleton template text, with ``${id}``, ``${title}``, ``${year}`` and ``${cycle}``."""
    return resources.files("kpirules").joinpath("skeleton.yaml").read_text(encoding="utf-8")


def render(name: str, *, cycle: str = "annual", today: dt.date | None = None) -> str:
    """The skeleton ruleset for NAME, in force from 1 January of ``today``'s year.

    Args:
        name: the ruleset's title (or file stem); kept as written, quoted for YAML.
        cycle: one of :data:`CYCLES` (``annual``, ``halfyear``, ``quarterly``, ``monthly``).
        today: the date whose year the ruleset starts in (default: today).

    Returns:
        The ruleset text (UTF-8, ``\\n`` line ends); it validates without warnings and
        passes its own tests.

    Raises:
        SkeletonError: NAME is not a usable title, or the cycle is unknown.
    """
    if cycle not in CYCLES:
        raise SkeletonError(f"考核周期 “{cycle}” 不可用（可选：{'、'.join(CYCLES)}）")
    title = title_of(name)
    year = (today or dt.date.today()).year
    return string.Template(template()).substitute(
        id=ruleset_id(title),
        # A JSON string is a YAML double-quoted scalar: ":", "#" and quotes stay plain text.
        title=json.dumps(title, ensure_ascii=False),
        year=f"{year:04d}",
        cycle=CYCLES[cycle],
    )
