"""Canonical JSON: the one writer behind ruleset fingerprints, results and the ledger."""

from __future__ import annotations

import json
from decimal import Decimal


def canonical_json(data: object, *, indent: int | None = None) -> str:
    """``data`` as canonical JSON: sorted keys, UTF-8 text, no spaces (unless indented).

    A Decimal is written as its exact text (``str``, so ``1E+2`` stays ``1E+2``: fingerprints
    and ledger hashes depend on it); a tuple as a list. Results convert their numbers to
    plain decimal text before they get here, so they never rely on this.
    """
    return json.dumps(
        data,
        ensure_ascii=False,
        sort_keys=True,
        indent=indent,
        separators=(",", ": ") if indent is not None else (",", ":"),
        default=_exact,
    )


def _exact(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)
