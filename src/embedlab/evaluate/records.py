"""The one shape every evaluation returns, and helpers to read records back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class EvalRecord:
    task: str
    split: str
    metric: str
    value: float  # correlations ×100, as papers report them
    n: int  # pairs (or tasks, for an average)

    def to_dict(self) -> dict:
        return asdict(self)


def records_from_json(items: Iterable[dict]) -> list[EvalRecord]:
    return [EvalRecord(**item) for item in items]


def lookup(records: Iterable[EvalRecord], task: str, metric: str, split: str | None = None) -> float | None:
    for record in records:
        if record.task == task and record.metric == metric and (split is None or record.split == split):
            return record.value
    return None
