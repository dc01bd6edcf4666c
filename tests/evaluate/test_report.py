"""Results tables: before/after rows."""

from __future__ import annotations

from embedlab.evaluate.records import EvalRecord
from embedlab.evaluate.report import markdown_table, table_rows


def test_table_rows_with_before_and_after():
    before = [EvalRecord("stsb", "test", "spearman_cosine", 80.0, 10)]
    after = [
        EvalRecord("stsb", "test", "spearman_cosine", 82.5, 10),
        EvalRecord("stsb", "test", "pearson_cosine", 81.0, 10),
    ]
    headers, rows = table_rows(after, before)
    assert rows == [["STS-B test", "10", "80.00", "82.50", "+2.50", "81.00"]]
    assert (
        markdown_table(headers, rows).splitlines()[2] == "| STS-B test | 10 | 80.00 | 82.50 | +2.50 | 81.00 |"
    )
