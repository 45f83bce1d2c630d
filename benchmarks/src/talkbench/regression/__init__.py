"""CI regression benchmark: compare a fresh run's metrics with committed baseline results.

``compare_dirs(new, baseline, rule)`` matches leaderboard rows (protocol, kind, animator, guidance) and
judges every metric against a tolerance derived from the spread over seeds
(:mod:`talkbench.regression.tolerance`); ``format_report`` prints the table; ``refresh_baseline`` replaces
the committed baseline with a run's ``result.json`` files. The CLI is :data:`regress_app`
(``talkbench regress compare|refresh|smoke``, or ``python -m talkbench.regression``).
"""

from .cli import DEFAULT_BASELINE, compare, refresh, regress_app, smoke
from .compare import (
    Comparison,
    RegressionInputError,
    RegressionReport,
    RowKey,
    compare_dirs,
    compare_results,
    load_result_set,
    row_key,
    row_label,
)
from .refresh import refresh_baseline
from .table import HEADERS, format_report, report_rows
from .tolerance import (
    DEFAULT_ABS_FLOORS,
    DEFAULT_K,
    DEFAULT_REL,
    DEFAULT_TWO_SIDED,
    FAILING_VERDICTS,
    ToleranceRule,
    Verdict,
    judge,
)

__all__ = [
    "DEFAULT_ABS_FLOORS",
    "DEFAULT_BASELINE",
    "DEFAULT_K",
    "DEFAULT_REL",
    "DEFAULT_TWO_SIDED",
    "FAILING_VERDICTS",
    "HEADERS",
    "Comparison",
    "RegressionInputError",
    "RegressionReport",
    "RowKey",
    "ToleranceRule",
    "Verdict",
    "compare",
    "compare_dirs",
    "compare_results",
    "format_report",
    "judge",
    "load_result_set",
    "refresh",
    "refresh_baseline",
    "regress_app",
    "report_rows",
    "row_key",
    "row_label",
    "smoke",
]
