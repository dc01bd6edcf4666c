"""The user's pair files (CSV, TSV, JSONL, Parquet): columns, blank lines, bad rows named by line."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.data.files import PairColumns, load_pair_file
from embedlab.errors import DataError


def test_csv_with_custom_columns_and_quoted_commas(fixtures):
    pairs = load_pair_file(
        fixtures / "pairs.csv", PairColumns(sentence1="first", sentence2="second", score="gold")
    )
    assert pairs.column_names == ["sentence1", "sentence2", "score"]
    assert len(pairs) == 4
    assert pairs[1]["sentence1"] == "A woman slices an onion, carefully."
    assert pairs["score"] == [4.8, 4.2, 0.0, 4.5]


def test_tsv_and_jsonl_skip_blank_lines(fixtures):
    assert load_pair_file(fixtures / "pairs.tsv")["score"] == [4.6, 1.4, 5.0]
    jsonl = load_pair_file(fixtures / "pairs.jsonl")
    assert jsonl["sentence2"][-1] == "It is a sunny day."
    assert len(jsonl) == 3


def test_parquet_rows_are_validated(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": ["x y", "z"], "b": ["p", "q r"], "s": [1.0, 2.5]}), good)
    assert load_pair_file(good, PairColumns(sentence1="a", sentence2="b", score="s"))["score"] == [1.0, 2.5]

    bad = tmp_path / "bad.parquet"
    pq.write_table(
        pa.table({"sentence1": ["x", "y"], "sentence2": ["p", "q"], "score": [1.0, float("nan")]}), bad
    )
    with pytest.raises(DataError) as caught:
        load_pair_file(bad)
    assert caught.value.line == 2 and caught.value.field == "score"
    assert "row 2" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "line", "field", "phrase"),
    [
        ("bad_score.csv", 3, "score", "not a number: 'very similar'"),
        ("empty_sentence.tsv", 3, "sentence2", "empty sentence"),
        ("missing_field.jsonl", 3, "sentence2", "missing"),
        ("nan_score.jsonl", 1, "score", "not a finite number"),
        ("short_row.csv", 3, "sentence2", "missing"),
        ("latin1.csv", 2, None, "not valid UTF-8"),
    ],
)
def test_malformed_rows_name_file_line_and_field(fixtures, name, line, field, phrase):
    with pytest.raises(DataError) as caught:
        load_pair_file(fixtures / name)
    error = caught.value
    assert error.path.endswith(name)
    assert error.line == line
    assert error.field == field
    assert phrase in str(error)
    assert f"line {line}" in str(error)


def test_missing_column_lists_the_columns_present(fixtures):
    with pytest.raises(DataError) as caught:
        load_pair_file(fixtures / "pairs.csv")
    assert caught.value.field == "sentence1"
    assert "first, second, gold, genre" in str(caught.value)


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'"):
        load_pair_file(tmp_path / "pairs.xlsx")
    with pytest.raises(DataError, match="file not found"):
        load_pair_file(tmp_path / "absent.csv")


def test_scores_are_floats_not_nan(fixtures):
    scores = load_pair_file(fixtures / "pairs.tsv")["score"]
    assert all(isinstance(s, float) and not math.isnan(s) for s in scores)


def test_cli_data_check_reports_one_line_and_exit_2(fixtures):
    runner = CliRunner()
    ok = runner.invoke(app, ["data", "check", str(fixtures / "pairs.tsv")])
    assert ok.exit_code == 0, ok.output
    assert "3 valid pairs" in ok.output

    bad = runner.invoke(app, ["data", "check", str(fixtures / "bad_score.csv")])
    assert bad.exit_code == 2
    message = bad.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "bad_score.csv, line 3, field 'score'" in message
