"""The bad-row matrix: every kind of bad row through `embed`, `index build` and `dedup` stops in one line
naming file, row and field before any encoding — or, with --skip-bad-rows, is set aside in rejected.jsonl
and counted while the good rows go through."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedlab.cli import app

GOOD = [{"id": f"g{i}", "text": f"a dog runs in the park {i}", "year": 2000 + i} for i in range(4)]

BAD_ROWS = {  # a raw JSONL line → what the one-line error names
    "lone surrogate": ('{"id": "b", "text": "bad \\ud800 text", "year": 1}', "line 3, field 'text'"),
    "text not a string": ('{"id": "b", "text": 42, "year": 1}', "line 3, field 'text'"),
    "id a list": ('{"id": ["b"], "text": "fine", "year": 1}', "line 3, field 'id'"),
    "id a float": ('{"id": 1.5, "text": "fine", "year": 1}', "line 3, field 'id'"),
    "metadata changes type": ('{"id": "b", "text": "fine", "year": "1999"}', "line 3, field 'year'"),
    "not JSON": ('{"id": "b", "text": ', "line 3"),
    "missing text": ('{"id": "b", "year": 1}', "line 3, field 'text'"),
}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def commands(model: Path, docs: Path, out: Path) -> dict[str, list]:
    return {
        "embed": ["embed", docs, "--model", model, "--out", out],
        "index build": ["index", "build", model, docs, "--out", out],
        "dedup": ["dedup", docs, "-m", model, "--out", out],
    }


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command", ["embed", "index build", "dedup"])
@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_stops_in_one_line_before_any_output(command, case, tmp_path, tiny_model_dir):
    line, where = BAD_ROWS[case]
    good = [json.dumps(row) for row in GOOD]
    docs = write(tmp_path / "docs.jsonl", [good[0], good[1], line, good[2]])
    out = tmp_path / "out"
    result = invoke(*commands(tiny_model_dir, docs, out)[command])
    assert result.exit_code == 2, result.output
    errors = [text for text in result.stderr.splitlines() if "error:" in text]
    assert len(errors) == 1 and f"docs.jsonl, {where}" in errors[0] and "Traceback" not in result.output
    assert not (out / "manifest.json").exists() and not (out / "kept.jsonl").exists()


@pytest.mark.parametrize("command", ["embed", "index build", "dedup"])
def test_skip_bad_rows_sets_them_aside_and_counts_them(command, tmp_path, tiny_model_dir):
    good = [json.dumps(row) for row in GOOD]
    bad = [line for line, _ in BAD_ROWS.values()]
    docs = write(tmp_path / "docs.jsonl", [good[0], *bad, *good[1:]])
    out = tmp_path / "out"
    result = invoke(*commands(tiny_model_dir, docs, out)[command], "--skip-bad-rows")
    assert result.exit_code == 0, result.output
    assert f"set aside {len(bad)} bad rows" in result.output
    rejected = [json.loads(text) for text in (out / "rejected.jsonl").read_text().splitlines()]
    assert [r["row"] for r in rejected] == list(range(2, 2 + len(bad)))
    assert all("docs.jsonl" in r["reason"] for r in rejected)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (lambda: gzip.compress(b'{"id": "a", "text": "hello"}\n' * 200)[:-30], "truncated"),
        (lambda: b'{"id": "a", "text": "not gzip at all"}\n', "damaged file"),
    ],
)
def test_a_truncated_or_fake_gz_is_one_line(content, reason, tmp_path, tiny_model_dir):
    docs = tmp_path / "docs.jsonl.gz"
    docs.write_bytes(content())
    for args in commands(tiny_model_dir, docs, tmp_path / "out").values():
        result = invoke(*args, "--skip-bad-rows")  # a damaged file is no bad row: it always stops
        assert result.exit_code == 2, result.output
        assert reason in result.stderr and "docs.jsonl.gz" in result.stderr
        assert "Traceback" not in result.output
