"""Near-duplicates: planted exact and paraphrased copies are found through the library and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.apps.dedup import deduplicate, exact_copies, union_find, write_dedup
from embedlab.cli import app
from embedlab.errors import EmbedlabError
from tests.corpora import BagOfWordsEncoder, planted_duplicates


def test_exact_copies_ignore_case_and_whitespace():
    assert exact_copies(["A cat.", "a dog", "  a   CAT. "]).tolist() == [0, 1, 0]


def test_union_find_joins_chains_to_their_smallest_row():
    groups = union_find(6, np.array([4, 1, 2]), np.array([5, 2, 3]))
    assert groups.tolist() == [0, 1, 1, 1, 4, 4]


def test_planted_exact_and_paraphrased_copies_are_removed_and_nothing_else():
    texts, copies = planted_duplicates()
    result = deduplicate(texts, BagOfWordsEncoder(), threshold=0.8, show_progress=False)
    found = {r.row: r.duplicate_of for r in result.removed}
    assert found == copies  # every planted copy, pointing at its original; no original removed
    exact = {r.row for r in result.removed if r.exact}
    assert exact == {
        row
        for row, original in copies.items()
        if texts[row].lower().split() == texts[original].lower().split()
    }
    assert all(r.score >= 0.8 for r in result.removed)
    assert sorted(result.kept + [r.row for r in result.removed]) == list(range(len(texts)))


def test_precomputed_vectors_give_the_same_result():
    texts, _ = planted_duplicates()
    encoder = BagOfWordsEncoder()
    from_encoder = deduplicate(texts, encoder, threshold=0.8, show_progress=False)
    from_vectors = deduplicate(texts, vectors=encoder.encode(texts), threshold=0.8, show_progress=False)
    assert from_encoder.removed == from_vectors.removed


def test_threshold_outside_cosine_range_is_refused():
    with pytest.raises(EmbedlabError, match=r"threshold=1\.5"):
        deduplicate(["a", "b"], BagOfWordsEncoder(), threshold=1.5)


def test_write_refuses_a_folder_of_the_users_and_an_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    texts, _ = planted_duplicates()
    docs = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    result = deduplicate(texts, BagOfWordsEncoder(), threshold=0.8, show_progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(EmbedlabError, match="embedlab did not write"):
        write_dedup(mine, result, docs, "docs")
    assert (mine / "notes.txt").read_text() == "keep me"

    import embedlab.apps.dedup as module

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "dedup_report", broken)
    with pytest.raises(KeyboardInterrupt):
        write_dedup(tmp_path / "out", result, docs, "docs")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_cli_dedup_writes_kept_and_removed_with_what_they_duplicate(tiny_model_dir, tmp_path):
    docs = tmp_path / "docs.jsonl"
    rows = [
        {"id": "a", "text": "a man plays guitar"},
        {"id": "b", "text": "A  MAN plays guitar"},
        {"id": "c", "text": "the sun is shining today"},
    ]
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    dry = runner.invoke(
        app, ["dedup", str(docs), "-m", str(tiny_model_dir), "--threshold", "0.999", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "keep 2, remove 1 (1 exact copies" in dry.output and not (tmp_path / "out").exists()
    out = tmp_path / "out"
    done = runner.invoke(
        app,
        [
            "dedup",
            str(docs),
            "-m",
            str(tiny_model_dir),
            "--threshold",
            "0.999",
            "--out",
            str(out),
            "--format",
            "parquet",
        ],
    )
    assert done.exit_code == 0, done.output
    import pyarrow.parquet as pq

    removed = pq.read_table(out / "removed.parquet").to_pylist()
    assert [(r["id"], r["duplicate_of"], r["exact"]) for r in removed] == [("b", "a", True)]
    assert pq.read_table(out / "kept.parquet").num_rows == 2 and (out / "report.md").is_file()
    again = runner.invoke(app, ["dedup", str(docs), "-m", str(tiny_model_dir), "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr


@pytest.mark.parametrize(
    ("content", "args", "phrase"),
    [
        ("", [], "no documents found"),
        ('{"id": "a"}\n', [], "line 1, field 'text'"),
        (b"\xff\xfe bad", [], "not valid UTF-8"),
        ('{"id": "a", "text": "x"}\n', ["--threshold", "-3"], "--threshold -3"),
        ('{"id": "a", "text": "x"}\n', [], "--out DIR"),
    ],
)
def test_cli_dedup_bad_input_is_one_line(tiny_model_dir, tmp_path, content, args, phrase):
    docs = tmp_path / "docs.jsonl"
    docs.write_bytes(content if isinstance(content, bytes) else content.encode())
    extra = args if phrase == "--out DIR" else [*args, "--dry-run"]
    result = CliRunner().invoke(app, ["dedup", str(docs), "-m", str(tiny_model_dir), *extra])
    assert result.exit_code == 2 and phrase in result.stderr and "Traceback" not in result.output


def test_a_chain_does_not_remove_a_row_unlike_the_one_it_would_duplicate():
    angle = np.radians([0, 18, 36])  # a~b and b~c at cos 18° = 0.951, a~c at cos 36° = 0.809
    vectors = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
    result = deduplicate(["a", "b", "c"], vectors=vectors, threshold=0.9, show_progress=False)
    assert [(r.row, r.duplicate_of) for r in result.removed] == [(1, 0)] and result.kept == [0, 2]
    assert result.removed[0].score == pytest.approx(0.951, abs=1e-3)
