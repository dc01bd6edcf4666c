"""arXiv evaluation through the CLI: prepared splits, models and the TF-IDF baseline."""

from __future__ import annotations

import json


def test_cli_prepares_splits_and_evaluates_models_and_the_baseline(
    arxiv_corpus, tiny_model_dir, tokenizer_dir, tmp_path
):
    from typer.testing import CliRunner

    from embedlab.cli import app
    from embedlab.evaluate.suite import results_name
    from tests.train.test_distill import _tiny_static_model

    static = tmp_path / "static"
    _tiny_static_model(tokenizer_dir).save(str(static))  # no length limit to set: it reads whole texts

    runner = CliRunner()
    out = tmp_path / "splits"
    prepared = runner.invoke(
        app, ["data", "arxiv", str(arxiv_corpus), "--out", str(out), "--min-papers", "10"]
    )
    assert prepared.exit_code == 0, prepared.output
    assert "set aside 1: invalid JSON" in prepared.output and (out / "test.parquet").is_file()
    for model in ("tfidf", str(tiny_model_dir), str(static)):
        result = runner.invoke(
            app,
            [
                "eval",
                model,
                "--tasks",
                "arxiv-retrieval,arxiv-classification",
                "--arxiv-dir",
                str(out),
                "--out",
                str(tmp_path / "records"),  # a file per model in it, named by the model's path
            ],
        )
        assert result.exit_code == 0, result.output
        written = tmp_path / "records" / results_name(model)
        metrics = {r["metric"] for r in json.loads(written.read_text())["records"]}
        assert {"precision@10", "ndcg@10", "map@100", "accuracy", "macro_f1"} <= metrics
    refused = runner.invoke(app, ["eval", "tfidf", "--tasks", "stsb"])
    assert refused.exit_code == 2 and "TF-IDF" in refused.output
