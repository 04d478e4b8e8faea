"""kpirules: exact, explainable scoring of performance-appraisal indicators from YAML rulesets."""

from kpirules.api import check, load
from kpirules.errors import KpirulesError, Problem, RulesetError
from kpirules.model import Ruleset
from kpirules.result import EvaluationError, EvaluationProblem, ItemResult, Result

__version__ = "0.1.0"

__all__ = [
    "EvaluationError",
    "EvaluationProblem",
    "ItemResult",
    "KpirulesError",
    "Problem",
    "Result",
    "Ruleset",
    "RulesetError",
    "__version__",
    "check",
    "load",
]
