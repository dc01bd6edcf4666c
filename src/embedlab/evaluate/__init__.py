"""Evaluation: every evaluator returns `EvalRecord`s; reports and model cards render from those."""

from embedlab.evaluate.records import EvalRecord
from embedlab.evaluate.sts import evaluate_sts, parse_tasks

__all__ = ["EvalRecord", "evaluate_sts", "parse_tasks"]
