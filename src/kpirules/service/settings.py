"""What a running service is configured with, and where its bearer token comes from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

#: Largest request body accepted, in bytes (an uploaded workbook or a JSON batch).
MAX_BODY_BYTES = 5 * 1024 * 1024
#: Most entities scored in one request.
MAX_ENTITIES = 5000
#: Seconds one request may spend reading and scoring before it is answered with 503.
TIME_LIMIT = 30.0
#: The environment variable holding the bearer token when no token file is given.
TOKEN_VARIABLE = "KPIRULES_TOKEN"


class SettingsError(Exception):
    """The service cannot start as configured; the message says why, in Chinese."""


@attrs.frozen
class Settings:
    """Configuration of one service.

    ``rulesets`` is the only folder rulesets are read from; ``ledger`` the audit ledger
    that ``/v1/record`` appends to (None: recording and the ledger endpoints are refused);
    ``token`` the bearer token those endpoints require (None: they are refused).
    """

    rulesets: Path
    ledger: Path | None = None
    token: str | None = attrs.field(default=None, repr=False)
    max_body_bytes: int = MAX_BODY_BYTES
    max_entities: int = MAX_ENTITIES
    time_limit: float = TIME_LIMIT


def read_token(token_file: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The bearer token: the first line of ``token_file``, else ``KPIRULES_TOKEN``, else None.

    Raises :class:`SettingsError` when the file cannot be read or holds no token, or the
    token is shorter than 16 characters (too easy to guess).
    """
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "不是 UTF-8 文本"
            raise SettingsError(f"无法读取令牌文件 {token_file}：{reason}") from None
        lines = text.strip().splitlines()
        token = lines[0].strip() if lines else ""
        source = f"令牌文件 {token_file}"
    else:
        token = environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            return None
        source = f"环境变量 {TOKEN_VARIABLE}"
    if not token:
        raise SettingsError(f"{source} 是空的：写入一个至少 16 个字符的随机令牌")
    if len(token) < 16:
        raise SettingsError(f"{source} 中的令牌太短（{len(token)} 个字符）：至少要 16 个字符")
    return token
