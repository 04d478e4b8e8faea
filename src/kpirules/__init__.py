"""kpirules: exact, explainable scoring of performance-appraisal indicators from YAML rulesets."""

from kpirules._version import __version__
from kpirules.api import LoadedRuleset, check, load
from kpirules.errors import KpirulesError, Problem, RulesetError
from kpirules.model import Ruleset
from kpirules.result import EvaluationError, EvaluationProblem, ItemResult, Result
from kpirules.streaming import score_rows

__all__ = [
    "EvaluationError",
    "EvaluationProblem",
    "ItemResult",
    "KpirulesError",
    "LoadedRuleset",
    "Problem",
    "Result",
    "Ruleset",
    "RulesetError",
    "__version__",
    "check",
    "load",
    "score_rows",
]
