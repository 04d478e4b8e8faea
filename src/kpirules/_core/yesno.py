"""The yes/no vocabulary: one list for targets, metric values and conditions."""

from __future__ import annotations

#: Words read as yes (是) wherever a yes/no is written: a target, a value, a cell.
YES_WORDS = frozenset({"是", "true", "True", "达标", "有"})
#: Words read as no (否).
NO_WORDS = frozenset({"否", "false", "False", "未达标", "无"})
#: English words that look like yes/no but are refused, so that nobody relies on them.
ENGLISH_YES_NO = frozenset({"yes", "no", "Yes", "No", "YES", "NO", "on", "off", "y", "n", "Y", "N"})


def yes_no(word: object) -> bool | None:
    """True or False for a yes/no word (or a bool), None for anything else."""
    if isinstance(word, bool):
        return word
    if isinstance(word, str):
        if word in YES_WORDS:
            return True
        if word in NO_WORDS:
            return False
    return None
