"""The one decimal context of every kpirules computation, and the guard that applies it.

Reading numbers, scoring, rendering sentences and serialising results all depend on the
current :mod:`decimal` context (precision, rounding, traps, exponent limits, how ``str``
writes exponents). A caller's program may have set any of these for its own purposes; a
score must not depend on them. Every public entry point is wrapped with :func:`exact`, which
runs it in :data:`CONTEXT` and gives the calling thread its own context back afterwards.
"""

from __future__ import annotations

import decimal
import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The arithmetic context of every evaluation; recorded in each result.
CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[decimal.DivisionByZero, decimal.InvalidOperation, decimal.Overflow],
)
CONTEXT_TEXT = "prec=28, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999, traps=[DivisionByZero, InvalidOperation, Overflow]"

_local = threading.local()


def _ours() -> decimal.Context:
    """This thread's copy of :data:`CONTEXT` (a context's flags are per thread)."""
    ours: decimal.Context | None = getattr(_local, "context", None)
    if ours is None:
        ours = _local.context = CONTEXT.copy()
    return ours


def exact(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in :data:`CONTEXT`, whatever the caller's context; restore the caller's.

    A call made from inside another guarded call costs one comparison: the context is
    already in place. Only for functions that return their result (not generators).
    """

    @functools.wraps(func)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        ours = _ours()
        caller = decimal.getcontext()
        if caller is ours:
            return func(*args, **kwargs)
        decimal.setcontext(ours)
        try:
            return func(*args, **kwargs)
        finally:
            decimal.setcontext(caller)

    return guarded
