"""The LVE / template column with the training-split ratio in brackets (hand-worked ratios)."""

from __future__ import annotations

from types import SimpleNamespace

from talkbench.leaderboard.tables import _ratio_column
from talkbench.results import MetricSummary


def _lve(per_seed: list[float]) -> dict[str, MetricSummary]:
    return {"lve": MetricSummary.from_seeds(per_seed, n=4, unit="m²", variant="max_sq", report_scale=1e-5)}


def _run(run_id: str, kind: str, test: list[float], train: list[float] | None):
    result = SimpleNamespace(
        run_id=run_id, kind=kind, metrics=_lve(test), train_metrics=None if train is None else _lve(train)
    )
    return SimpleNamespace(result=result)


def test_training_ratio_in_brackets_against_the_template_on_the_same_sequences() -> None:
    runs = [
        _run("template", "template", [4.0e-5], [2.0e-5]),
        _run("ff", "method", [2.0e-5, 2.0e-5], [0.5e-5, 0.5e-5]),  # test 2/4 = 0.50, train 0.5/2 = 0.25
        _run("old", "method", [3.0e-5, 3.0e-5], None),  # scored on the test split only
    ]
    rows = [{"run_id": r.result.run_id, "kind": r.result.kind} for r in runs]
    column = _ratio_column(runs, rows)
    assert column is not None and column["header"] == "LVE / template (max_sq; training split in brackets)"
    assert rows[0]["lve_ratio"]["text"] == "1.00 ± 0.00 (train 1.00)"
    assert rows[1]["lve_ratio"]["text"] == "0.50 ± 0.00 (train 0.25)"
    assert rows[2]["lve_ratio"]["text"] == "0.75 ± 0.00" and "train" not in rows[2]["lve_ratio"]


def test_no_training_ratio_without_the_templates_training_lve() -> None:
    runs = [_run("template", "template", [4.0e-5], None), _run("ff", "method", [1.0e-5], [0.5e-5])]
    rows = [{"run_id": r.result.run_id, "kind": r.result.kind} for r in runs]
    column = _ratio_column(runs, rows)
    assert column is not None and column["header"] == "LVE / template (max_sq)"
    assert rows[1]["lve_ratio"]["text"] == "0.25 ± 0.00"
