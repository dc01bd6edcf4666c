"""STS evaluation: correlations, cosine of pairs, task parsing, parity with sentence-transformers, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.data.sts import load_sts
from embedlab.evaluate.records import EvalRecord
from embedlab.evaluate.sts import (
    HELD_OUT,
    SPEARMAN,
    correlation_records,
    cosine_of_pairs,
    evaluate_pairs,
    held_out_pairs,
    parse_tasks,
    spearman_average,
)
from embedlab.evaluate.suite import results_name


def test_correlations_on_a_hand_computed_example():
    cosine = np.array([0.1, 0.4, 0.35, 0.8])
    gold = [0.0, 2.0, 3.0, 5.0]
    spearman, pearson = correlation_records("toy", "test", cosine, gold)
    # ranks 1,3,2,4 vs 1,2,3,4: rho = 1 - 6*(0+1+1+0)/(4*15) = 0.8
    assert spearman.value == pytest.approx(80.0)
    assert pearson.metric == "pearson_cosine" and pearson.n == 4
    expected_pearson = np.corrcoef(cosine, gold)[0, 1] * 100
    assert pearson.value == pytest.approx(expected_pearson)


def test_cosine_of_pairs_ignores_vector_length():
    vectors = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    assert cosine_of_pairs(vectors, np.array([0, 0]), np.array([1, 2])).tolist() == pytest.approx([1.0, 0.0])


def test_parse_tasks_defaults_and_splits():
    assert parse_tasks(None)[:2] == [("stsb", "test"), ("sickr", "full")]
    assert len(parse_tasks("sts")) == 7
    assert parse_tasks("stsb:dev, sickr:test") == [("stsb", "dev"), ("sickr", "test")]


@pytest.mark.integration
def test_matches_sentence_transformers_evaluator(minilm):
    """Deduplicated encoding gives the library evaluator's figures on real pairs."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    from embedlab.data.sts import load_sts

    pairs = load_sts("sickr", "test").select(range(300))  # SICK repeats sentences: dedup matters here
    ours = evaluate_pairs(minilm, {("sickr", "test"): pairs}, show_progress=False)
    reference = EmbeddingSimilarityEvaluator(
        list(pairs["sentence1"]),
        list(pairs["sentence2"]),
        list(pairs["score"]),
        similarity_fn_names=["cosine"],
    )(minilm)
    assert ours[0].value == pytest.approx(reference["spearman_cosine"] * 100, abs=1e-3)
    assert ours[1].value == pytest.approx(reference["pearson_cosine"] * 100, abs=1e-3)


def test_records_are_named_by_the_whole_path_and_averages_keep_to_one_split():
    assert results_name("runs/a/model") != results_name("runs/b/model")
    assert results_name("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2.json"
    test, dev = EvalRecord("stsb", "test", SPEARMAN, 80.0, 1), EvalRecord("sickr", "dev", SPEARMAN, 70.0, 1)
    assert spearman_average([test, dev]) == []  # a dev figure beside a test one: no suite average
    assert spearman_average([test, EvalRecord("stsb", "dev", SPEARMAN, 85.0, 1)]) == []
    (average,) = spearman_average([test, EvalRecord("sickr", "full", SPEARMAN, 70.0, 1)])  # its own split
    assert (average.value, average.n) == (75.0, 2)


def test_cli_eval_prints_table_and_writes_json(tiny_model_dir, tmp_path):
    result = CliRunner().invoke(
        app, ["eval", str(tiny_model_dir), "--tasks", "stsb,sts16", "--out", str(tmp_path / "records")]
    )
    out = tmp_path / "records" / results_name(str(tiny_model_dir))  # named by the model's whole path
    assert result.exit_code == 0, result.output
    assert "STS-B test" in result.output and "average" in result.output
    records = json.loads(out.read_text())["records"]
    assert {(r["task"], r["metric"]) for r in records} >= {
        ("stsb", "spearman_cosine"),
        ("average", "spearman_cosine"),
    }
    assert next(r for r in records if r["task"] == "sts16")["n"] == len(load_sts("sts16", "test"))


def test_cli_eval_unknown_model_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "missing-model"), "--tasks", "stsb"])
    assert result.exit_code == 2
    assert "model folder not found" in result.stderr and "Traceback" not in result.stderr


def pair_keys(pairs) -> list[frozenset]:
    return [
        frozenset((a.strip(), b.strip())) for a, b in zip(pairs["sentence1"], pairs["sentence2"], strict=True)
    ]


@pytest.mark.integration  # the real STS files: STS12 test shares pairs with STS-B train
def test_held_out_pairs_are_exactly_those_not_in_stsb_train():
    seen = set(pair_keys(load_sts("stsb", "train")))
    held = held_out_pairs(["sts12", "stsb"])
    for task, split in (("sts12", "test"), ("stsb", "test")):
        kept, full = held[(task, HELD_OUT)], load_sts(task, split)
        assert not seen.intersection(pair_keys(kept))
        assert len(full) - len(kept) == sum(key in seen for key in pair_keys(full))
    assert len(held[("sts12", HELD_OUT)]) < len(load_sts("sts12", "test")) / 1.2  # STS12 overlaps STS-B train
