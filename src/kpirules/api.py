"""Wiring of the stages: read a file, validate it, return an immutable ruleset."""

from __future__ import annotations

from pathlib import Path

from kpirules.errors import Problem, RulesetError, sorted_problems
from kpirules.loader import load_yaml
from kpirules.model import Ruleset
from kpirules.validate import validate_document


def check(
    path: str | Path, *, text: str | None = None
) -> tuple[Ruleset | None, tuple[Problem, ...]]:
    """Load and validate a ruleset file, returning it (None if invalid) and every problem.

    Args:
        path: the ruleset file (YAML, UTF-8).
        text: the file's text, when already in memory; ``path`` then only names it.

    Returns:
        The ruleset, or None when any problem is an error; and all problems, sorted by line.
    """
    doc, problems = load_yaml(path, text=text)
    if doc is None or problems:
        # YAML-level problems (duplicate keys, aliases, tags) change what the document
        # means; checking its meaning before they are fixed would only report echoes.
        return None, sorted_problems(problems)
    source = text if text is not None else _read_text(path)
    ruleset, more = validate_document(doc, source)
    found = sorted_problems([*problems, *more])
    if any(p.severity == "error" for p in found):
        return None, found
    return ruleset, found


def load(path: str | Path, *, text: str | None = None) -> Ruleset:
    """Load a ruleset, or raise :class:`RulesetError` carrying every problem found.

    Warnings do not stop loading; they are available from :func:`check`.
    """
    ruleset, problems = check(path, text=text)
    if ruleset is None:
        raise RulesetError(problems)
    return ruleset


def _read_text(path: str | Path) -> str:
    raw = Path(path).read_bytes()
    return raw.decode("utf-8-sig")
