"""Hypothesis settings profiles: ``default`` for the test command, ``fuzz`` for ``fuzz/run.py``.

Example counts live here, not in the tests: ``HYPOTHESIS_PROFILE=fuzz pytest`` or the fuzz
runner turn the same properties into a long campaign.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

from kpirules.words import language

settings.register_profile(
    "default",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# The runner overrides max_examples per target and per worker; it never fails a case
# (it records it), so shrinking and the example database would only cost time.
settings.register_profile(
    "fuzz",
    max_examples=5000,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: A target whose every case starts processes or writes several files runs this share of
#: the profile's examples in the test suite (a handful under ``default``).
SLOW_SHARE = 30


@pytest.fixture
def english_text() -> Iterator[None]:
    """Messages in the earlier wording (``kpirules --lang en``), as developers read them."""
    with language("en"):
        yield
