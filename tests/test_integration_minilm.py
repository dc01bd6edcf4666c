"""Integration tests with the packaged all-MiniLM-L6-v2 and the shared benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from transformers import TrainerCallback

from embedlab.config import RunConfig
from embedlab.evaluate.records import lookup
from embedlab.evaluate.sts import evaluate_sts
from embedlab.train import train

pytestmark = pytest.mark.integration


def test_published_stsb_figures(minilm):
    """all-MiniLM-L6-v2's published STS-B numbers: test Spearman 82.03 / Pearson 82.74, dev Spearman 86.72."""
    records = evaluate_sts(minilm, "stsb:test,stsb:dev", show_progress=False)
    assert lookup(records, "stsb", "spearman_cosine", "test") == pytest.approx(82.03, abs=0.01)
    assert lookup(records, "stsb", "pearson_cosine", "test") == pytest.approx(82.74, abs=0.01)
    assert lookup(records, "stsb", "spearman_cosine", "dev") == pytest.approx(86.72, abs=0.01)


def minilm_config(tmp_path: Path, **changes) -> RunConfig:
    raw = {
        "name": "minilm-short",
        "model": "all-MiniLM-L6-v2",
        "output_dir": str(tmp_path / "runs"),
        "train": {"task": "stsb", "split": "train", "max_pairs": 64},
        "dev": {"task": "stsb", "split": "dev", "max_pairs": 200},
        "training": {"epochs": 2, "batch_size": 16, "logging_steps": 1},
        "eval": {"tasks": ["stsb"], "before": False},
    }
    raw.update(changes)
    return RunConfig.model_validate(raw)


@pytest.mark.parametrize("bf16", ["auto", True])
def test_short_run_loads_in_plain_sentence_transformers(tmp_path, bf16):
    """The card's figures are the saved model's as a user loads it (fp32), also after bf16 training, whose
    autocast stays wrapped around the trained model: scoring that in-memory model differs by ~0.002 (AMX)."""
    from sentence_transformers import SentenceTransformer

    dev = {} if bf16 == "auto" else {"dev": None}  # bf16 is emulated, slow, on AVX2-only CPUs: keep it short
    config = minilm_config(tmp_path, training={"epochs": 1, "batch_size": 16, "bf16": bf16}, **dev)
    result = train(config)
    assert result.bf16 or bf16 == "auto"  # forced bf16 is used
    model_dir = config.run_dir / "model"
    plain = SentenceTransformer(str(model_dir), device="cpu")  # no embedlab involved in loading
    assert plain.get_embedding_dimension() == 384
    after = evaluate_sts(plain, "stsb", show_progress=False)
    assert lookup(after, "stsb", "spearman_cosine") == pytest.approx(
        lookup(result.after, "stsb", "spearman_cosine"), abs=1e-3
    )
    card = (model_dir / "README.md").read_text()
    spearman = lookup(result.after, "stsb", "spearman_cosine")
    assert f"| STS-B test | 1,379 | {spearman:.2f} |" in card
    assert "model: all-MiniLM-L6-v2" in card and "loss:" in card


class Crash(TrainerCallback):
    """Kills the run right after its first checkpoint is written, as a power cut would."""

    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt("simulated crash after the first checkpoint")


def test_resume_after_interruption(tmp_path):
    config = minilm_config(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[Crash()])
    checkpoints = sorted(p.name for p in (config.run_dir / "checkpoints").glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-4"]
    assert not (config.run_dir / "model").exists()

    result = train(config, resume=True)
    assert result.global_step == 8
    logged = [json.loads(line) for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()]
    steps_with_loss = [entry["step"] for entry in logged if "loss" in entry]
    assert steps_with_loss == list(range(1, 9))  # steps 1-4 before the crash, 5-8 after; none repeated
    dev_evaluations = [entry["epoch"] for entry in logged if "eval_dev_spearman_cosine" in entry]
    assert dev_evaluations == [1.0, 2.0]
    assert (config.run_dir / "model" / "model.safetensors").is_file()


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    """Same seed, same data order: a resumed run ends with the weights an uninterrupted one has."""
    from sentence_transformers import SentenceTransformer

    straight = minilm_config(tmp_path, name="straight", dev=None)
    train(straight)
    resumed = minilm_config(tmp_path, name="resumed", dev=None)
    with pytest.raises(KeyboardInterrupt):
        train(resumed, callbacks=[Crash()])
    train(resumed, resume=True)
    sentences = ["A man is playing a guitar.", "Stocks fell sharply on Monday."]
    a = SentenceTransformer(str(straight.run_dir / "model"), device="cpu").encode(sentences)
    b = SentenceTransformer(str(resumed.run_dir / "model"), device="cpu").encode(sentences)
    assert np.allclose(a, b, atol=1e-5)
