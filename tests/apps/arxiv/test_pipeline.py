"""The arXiv pipeline end to end, and its stage cache (unchanged stages are skipped)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from embedlab.errors import ConfigError


def _pipeline_config(arxiv_corpus: Path, model_dir: Path, out: Path, **overrides):
    from embedlab.apps.arxiv.config import PipelineConfig

    raw = {
        "name": "tiny",
        "model": str(model_dir),
        "output_dir": str(out),
        "data": {"path": str(arxiv_corpus), "min_papers": 10, "eval_fraction": 0.2, "test_fraction": 0.25},
        "pairs": {"train_pairs": 16, "eval_pairs": 8},
        "training": {"max_steps": 2, "batch_size": 8, "logging_steps": 1, "eval_steps": 1},
        "eval": {
            "classification_train_size": 24,
            "training_eval_queries": 12,
            "map_points": 20,
            "max_seq_length": 32,
        },
    }
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        raw.setdefault(section, {})[key] = value
    return PipelineConfig.model_validate(raw)


def test_pipeline_runs_end_to_end_then_skips_unchanged_stages_and_reruns_changed_ones(
    arxiv_corpus, tiny_model_dir, tmp_path
):
    from sentence_transformers import SentenceTransformer

    from embedlab.apps.arxiv.pipeline import run_pipeline

    first = run_pipeline(_pipeline_config(arxiv_corpus, tiny_model_dir, tmp_path), log=lambda line: None)
    assert set(first.ran) == {
        "preprocess",
        "pairs",
        "train",
        "evaluate-base",
        "evaluate-finetuned",
        "evaluate-tfidf",
    }
    run = tmp_path / "tiny"
    report = json.loads((run / "report.json").read_text())
    assert set(report["results"]) == {"base", "finetuned", "tfidf"}
    assert (run / "precision_per_subject.png").stat().st_size > 0 and (run / "embedding_map.png").is_file()
    assert "| retrieval | precision@10 |" in (run / "report.md").read_text()
    card = (run / "train" / "model" / "README.md").read_text()
    assert "precision@10" in card and "train_pairs: 16" in card
    assert SentenceTransformer(str(run / "train" / "model")).encode(["a dog"]).shape == (1, 32)

    again = run_pipeline(_pipeline_config(arxiv_corpus, tiny_model_dir, tmp_path), log=lambda line: None)
    assert again.ran == {} and len(again.skipped) == 6

    changed = run_pipeline(
        _pipeline_config(arxiv_corpus, tiny_model_dir, tmp_path, pairs__train_pairs=24), log=lambda line: None
    )
    assert set(changed.ran) == {"pairs", "train", "evaluate-finetuned"}
    assert set(changed.skipped) == {"preprocess", "evaluate-base", "evaluate-tfidf"}

    # subject-aware batches: the pairs gain a label column, so pairs and training run again
    labelled = run_pipeline(
        _pipeline_config(
            arxiv_corpus,
            tiny_model_dir,
            tmp_path,
            training__batches="distinct-labels",
            training__batch_size=4,
        ),
        log=lambda line: None,
    )
    assert set(labelled.ran) == {"pairs", "train", "evaluate-finetuned"}
    pairs = pq.read_table(run / "pairs" / "train.parquet")
    assert pairs.column_names == ["anchor", "positive", "label"] and set(pairs["label"].to_pylist()) == {
        0,
        1,
        2,
        3,
    }

    # same-label masking in random batches: the pairs keep their label column, the loss reads it
    masked = run_pipeline(
        _pipeline_config(
            arxiv_corpus, tiny_model_dir, tmp_path, loss__name="mnrl", loss__mask_same_label=True
        ),
        log=lambda line: None,
    )
    assert set(masked.ran) == {"train", "evaluate-finetuned"}  # the labelled pairs above are reused
    assert pq.read_table(run / "pairs" / "train.parquet").column_names == ["anchor", "positive", "label"]
    assert "mask_same_label: true" in (run / "train" / "model" / "README.md").read_text()

    with pytest.raises(ConfigError, match=r"training.batch_size 8: .* the data has 4 labels"):
        run_pipeline(
            _pipeline_config(arxiv_corpus, tiny_model_dir, tmp_path, training__batches="distinct-labels"),
            log=lambda line: None,
        )


def test_seeds_share_one_benchmark_and_report_the_spread_of_the_fine_tuned_figures(
    arxiv_corpus, tiny_model_dir, tmp_path
):
    import statistics

    import yaml
    from typer.testing import CliRunner

    from embedlab.apps.arxiv.seeds import run_pipeline_seeds
    from embedlab.cli import app

    config = _pipeline_config(arxiv_corpus, tiny_model_dir, tmp_path)
    lines: list[str] = []
    result = run_pipeline_seeds(config, 2, log=lines.append)
    assert result is not None
    first, second = tmp_path / "tiny", tmp_path / "tiny-seed43"
    assert [r.run_dir for r in result.runs] == [first, second]

    # the benchmark is the first seed's: same split, the base model's and TF-IDF's figures taken, not rerun
    for shared in ("data/test.parquet", "eval/base.json", "eval/tfidf.json", ".stages/evaluate-base.json"):
        assert (first / shared).read_bytes() == (second / shared).read_bytes(), shared
    assert sum("taken from" in line for line in lines) == 3
    assert sum("evaluate-base[/bold]: running" in line for line in lines) == 1
    # what training draws does change with the seed
    assert (first / "pairs/train.parquet").read_bytes() != (second / "pairs/train.parquet").read_bytes()
    assert yaml.safe_load((second / "config.yaml").read_text())["data"]["seed"] == 42

    row = next(r for r in result.summary if (r["task"], r["split"]) == ("retrieval", "precision@10"))
    values = [
        next(
            r["value"]
            for r in json.loads((run / "eval/finetuned.json").read_text())["records"]
            if r["metric"] == "precision@10"
        )
        for run in (first, second)
    ]
    assert row["values"] == values and row["mean"] == round(statistics.fmean(values), 2)
    assert any(r["task"] == "eval split" for r in result.summary)
    report = (tmp_path / "tiny-seeds" / "report.md").read_text()
    assert "mean ± sd of 2 seeds" in report and "| retrieval | precision@10 |" in report

    again: list[str] = []
    run_pipeline_seeds(config, 2, log=again.append)
    assert sum("unchanged, skipped" in line for line in again) == 12

    refused = CliRunner().invoke(app, ["pipeline", str(first / "config.yaml"), "--seeds", "1"])
    assert refused.exit_code == 2 and "--seeds 1: give 2 or more" in refused.output
    for args, line in (
        (["--soup", "greedy"], "--soup averages the models of a seed sweep: give --seeds N too"),
        (["--seeds", "2", "--soup", "mean"], "--soup mean: choose uniform or greedy"),
    ):
        refused = CliRunner().invoke(app, ["pipeline", str(first / "config.yaml"), *args])
        assert refused.exit_code == 2 and line in refused.output, refused.output


def test_a_soup_of_the_seeds_is_their_mean_scored_on_test_beside_them(arxiv_corpus, tiny_model_dir, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer

    from embedlab.apps.arxiv.seeds import run_pipeline_seeds

    # no warm-up: the first checkpoint (kept on a tie) has already moved, each seed its own way
    config = _pipeline_config(
        arxiv_corpus, tiny_model_dir, tmp_path, training__warmup_ratio=0.0, training__learning_rate=1e-3
    )
    lines: list[str] = []
    result = run_pipeline_seeds(config, 2, soup="uniform", log=lines.append)
    assert result is not None and result.soup is not None
    soup = result.soup
    assert soup.model_dir == tmp_path / "tiny-seeds" / "soup" / "model"
    assert soup.members == [str(tmp_path / name / "train" / "model") for name in ("tiny", "tiny-seed43")]

    # a soup loads with plain sentence-transformers and its weights are the mean of the seeds'
    made = SentenceTransformer(str(soup.model_dir), device="cpu").state_dict()
    seeds = [SentenceTransformer(m, device="cpu").state_dict() for m in soup.members]
    assert any(not torch.equal(seeds[0][key], seeds[1][key]) for key in made)
    for key, tensor in made.items():
        expected = (seeds[0][key] + seeds[1][key]) / 2 if tensor.is_floating_point() else seeds[0][key]
        torch.testing.assert_close(tensor, expected, rtol=0, atol=1e-6)

    # scored on the whole eval split (every paper) and on test as the seeds are, reported beside them
    tested = json.loads((soup.model_dir.parent / "eval" / "soup.json").read_text())
    assert (
        tested["test_papers"]
        == json.loads((tmp_path / "tiny/eval/finetuned.json").read_text())["test_papers"]
    )
    assert soup.eval_papers == len(pq.read_table(tmp_path / "tiny" / "data" / "eval.parquet"))
    p10 = next(r["value"] for r in tested["records"] if r["metric"] == "precision@10")
    report = (tmp_path / "tiny-seeds" / "report.md").read_text()
    row = report.split("| retrieval | precision@10 |")[1].splitlines()[0]
    assert "uniform soup (2 of 2)" in report and row.endswith(f"| {p10:.2f} |")
    summary = json.loads((tmp_path / "tiny-seeds" / "summary.json").read_text())
    assert summary["soup"]["members"] == soup.members and summary["soup"]["test"] == tested["records"]
    card = (soup.model_dir / "README.md").read_text()
    assert "uniform soup" in card and "| retrieval | precision@10 |" in card

    again: list[str] = []
    run_pipeline_seeds(config, 2, soup="uniform", log=again.append)
    assert sum("unchanged, skipped" in line for line in again) == 14  # 2 × 6 stages, the soup and its test
