"""Coverage-guided fuzzing of the ruleset loader and validator with atheris (optional).

Every input is a ruleset text (bytes decoded as UTF-8 with replacement, half of the time
spliced into a valid shipped ruleset so the fuzzer reaches deep into validation). The
invariant: ``kpirules.check`` returns; any exception is a finding.

Usage: pip install atheris && python fuzz/atheris_target.py -max_total_time=600
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import kpirules

SEED = (Path(__file__).resolve().parent.parent / "rulesets" / "a-office-annual.yaml").read_text("utf-8")


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    splice = fdp.ConsumeBool()
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
    if splice:
        at = len(text) % (len(SEED) + 1)
        text = SEED[:at] + text + SEED[at + len(text) // 2 :]
    kpirules.check("fuzz.yaml", text=text)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
