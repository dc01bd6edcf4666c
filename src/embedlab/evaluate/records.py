"""The one shape every evaluation returns, and helpers to read records back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class EvalRecord:
    """One number of an evaluation: task, split, metric, value (×100) and sample size.

    Example::

        EvalRecord("stsb", "test", "spearman", 82.03, 1379)
    """

    task: str
    split: str
    metric: str
    value: float  # correlations ×100, as papers report them
    n: int  # pairs (or tasks, for an average)

    def to_dict(self) -> dict:
        """The record as a plain dict (for JSON)."""
        return asdict(self)


def records_from_json(items: Iterable[dict]) -> list[EvalRecord]:
    """Records from their JSON form (a results file's `records` list).

    Example::

        records = records_from_json(json.loads(Path("eval.json").read_text())["records"])
    """
    return [EvalRecord(**item) for item in items]


def lookup(records: Iterable[EvalRecord], task: str, metric: str, split: str | None = None) -> float | None:
    """The value of the first record matching task, metric (and split), or None.

    Example::

        lookup(records, "stsb", "spearman", "test")  # 82.03
    """
    for record in records:
        if record.task == task and record.metric == metric and (split is None or record.split == split):
            return record.value
    return None
