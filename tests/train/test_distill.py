"""Distillation into scratch and static students: the student gets closer to its teacher and loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.config import RunConfig
from embedlab.errors import ConfigError
from tests.corpora import CORPUS, gram


def _distill_config(
    tmp_path: Path, tokenizer_dir: Path, teacher: Path, corpus: Path, steps: int, dropout=0.1, **distill
) -> RunConfig:
    return RunConfig.model_validate(
        {
            "name": f"distill-{steps}",
            "model": "scratch",
            "output_dir": str(tmp_path / "runs"),
            "scratch": {
                "tokenizer": str(tokenizer_dir),
                "layers": 2,
                "hidden": 32,
                "heads": 4,
                "max_length": 32,
                "dropout": dropout,
            },
            "distill": {
                "teacher": str(teacher),
                "sentences": [str(corpus)],
                "max_sentences": 64,
                **distill,
            },
            "loss": {"name": "mse"},
            "dev": None,
            "training": {"max_steps": steps, "batch_size": 16, "learning_rate": 1e-3, "logging_steps": 1},
            "eval": {"tasks": ["stsb:dev"], "before": False},
        }
    )


@pytest.mark.integration  # the teacher uses the packaged MiniLM tokenizer
def test_a_few_distillation_steps_bring_the_student_closer_and_it_loads_and_evaluates(
    tokenizer_dir, tiny_bert_with_real_vocabulary, tmp_path, monkeypatch
):
    monkeypatch.setenv("EMBEDLAB_CACHE_DIR", str(tmp_path / "cache"))
    from sentence_transformers import SentenceTransformer

    from embedlab.train import train
    from embedlab.train.distill import distillation_dataset, with_aligned_projection
    from embedlab.train.trainer import build_model

    # a teacher with a real vocabulary, so that its 64 embeddings of these sentences differ
    words = [
        "man",
        "woman",
        "dog",
        "cat",
        "child",
        "plays",
        "guitar",
        "piano",
        "book",
        "kite",
        "park",
        "horse",
    ]
    rng = np.random.default_rng(0)
    corpus = tmp_path / "unlabelled.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words, 6)) for _ in range(80)) + "\n")
    teacher = tiny_bert_with_real_vocabulary
    # no dropout: in a 32-wide model its noise is ten times the distance left after the aligned start
    config = _distill_config(tmp_path, tokenizer_dir, teacher, corpus, steps=60, dropout=0.0)
    result = train(config)
    logged = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert sum("loss" in entry for entry in logged) >= 50
    student = SentenceTransformer(str(result.model_dir))
    # against the teacher, the trained student is closer than its start (the least-squares projection)
    data, _ = distillation_dataset(config.distill)
    targets = np.asarray(data["label"])
    start = with_aligned_projection(build_model(config, projection_dim=32), data["sentence"], targets)

    def mse(model) -> float:
        return float(np.mean((model.encode(data["sentence"]) - targets) ** 2))

    assert mse(student) < 0.9 * mse(start)
    assert student.encode(["a man"]).shape == (1, 32)  # projected to the teacher's width
    assert "distilled from" in (result.model_dir / "README.md").read_text()
    assert len(list((tmp_path / "cache" / "teacher").glob("*/chunk-*.npz"))) == 1  # reused by later runs
    evaluated = CliRunner().invoke(
        app, ["eval", str(result.model_dir), "--tasks", "stsb:dev", "--out", str(tmp_path / "e")]
    )
    assert evaluated.exit_code == 0, evaluated.output


def test_the_teacher_cache_encodes_only_texts_it_has_not_seen(tiny_model_dir, tmp_path, monkeypatch):
    import hashlib

    from sentence_transformers import SentenceTransformer

    from embedlab.config import DistillConfig
    from embedlab.train import distill

    config = DistillConfig(teacher=str(tiny_model_dir))
    teacher = SentenceTransformer(str(tiny_model_dir), device="cpu")
    cache = tmp_path / "teacher"
    encoded: list[str] = []
    from embedlab.models import registry

    real = registry.load_model

    def counting(name):  # the teacher, recording what it is asked to encode
        model = real(name)
        original = model.encode
        model.encode = lambda texts, **kw: encoded.extend(texts) or original(texts, **kw)
        return model

    monkeypatch.setattr(registry, "load_model", counting)
    first = distill.teacher_embeddings(config, ["a dog runs", "a cat sleeps", "two men"], cache)
    assert encoded == ["a dog runs", "a cat sleeps", "two men"]
    np.testing.assert_allclose(first, teacher.encode(["a dog runs", "a cat sleeps", "two men"]), atol=1e-5)

    encoded.clear()  # another sample of the sources (another seed, more sentences): only new texts
    second = distill.teacher_embeddings(config, ["two men", "a kite", "a dog runs", "a kite"], cache)
    assert encoded == ["a kite"]
    np.testing.assert_allclose(
        second, teacher.encode(["two men", "a kite", "a dog runs", "a kite"]), atol=1e-5
    )
    assert len(list(cache.glob("*/chunk-*.npz"))) == 2

    # a cache file from before the per-text cache (one per sentence list) is read, not encoded again
    texts = ["an old sentence", "another old one"]
    key = hashlib.sha256(json.dumps([config.teacher, texts]).encode()).hexdigest()[:16]
    np.save(cache / f"teacher-{key}.npy", np.full((2, 32), 0.5, np.float32))
    encoded.clear()
    assert (distill.teacher_embeddings(config, texts, cache) == 0.5).all() and encoded == []


@pytest.mark.integration  # the teacher uses the packaged MiniLM tokenizer
def test_distillation_can_start_the_student_from_the_teachers_token_embeddings(
    tokenizer_dir, tiny_model_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("EMBEDLAB_CACHE_DIR", str(tmp_path / "cache"))
    from embedlab.train import train
    from embedlab.train.distill import teacher_token_vectors
    from embedlab.train.trainer import build_model

    corpus = tmp_path / "unlabelled.txt"
    corpus.write_text("\n".join(dict.fromkeys(CORPUS)) + "\n")
    config = _distill_config(tmp_path, tokenizer_dir, tiny_model_dir, corpus, steps=1, init_embeddings=True)
    token_vectors = teacher_token_vectors(config.distill, tokenizer_dir)
    assert token_vectors.shape == (len(build_model(config)[0].tokenizer), 32)  # the teacher's width
    student = build_model(config, projection_dim=32)
    table = student[0].auto_model.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64)
    rows = [10, 100, 300]
    expected = gram(token_vectors[rows] - token_vectors.mean(axis=0))
    assert np.corrcoef(gram(table[rows]).ravel(), expected.ravel())[0, 1] > 0.999
    result = train(config)
    assert result.global_step == 1 and (result.model_dir / "model.safetensors").is_file()
    with pytest.raises(ValueError, match="needs model: scratch"):
        RunConfig.model_validate(
            {
                "name": "x",
                "model": "m",
                "distill": {"teacher": "t", "init_embeddings": True},
                "loss": {"name": "mse"},
            }
        )


def test_distill_config_is_checked():
    with pytest.raises(ValueError, match="mse"):
        RunConfig.model_validate({"name": "x", "model": "m", "distill": {"teacher": "t"}})
    with pytest.raises(ValueError, match="scratch"):
        RunConfig.model_validate({"name": "x", "model": "scratch", "train": {"task": "stsb"}})


def _tiny_static_model(tokenizer_dir: Path, dim: int = 8):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    torch.manual_seed(0)
    table = torch.randn(tokenizer.get_vocab_size(), dim)
    return SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=table), Normalize()])


def test_ridge_map_recovers_a_linear_map_and_ignores_directions_without_variance():
    from embedlab.train.distill import ridge_map

    rng = np.random.default_rng(0)
    features = rng.standard_normal((500, 6))
    weight, bias = rng.standard_normal((6, 3)), rng.standard_normal(3)
    targets = features @ weight + bias
    solved_weight, solved_bias = ridge_map(features, targets, strength=0.0)
    assert np.allclose(solved_weight, weight) and np.allclose(solved_bias, bias)
    # a seventh feature that is almost constant (noise 1e-6): exact least squares would lean on it
    noisy = np.hstack([features, 1e-6 * rng.standard_normal((500, 1))])
    noisy_targets = targets + 0.01 * rng.standard_normal((500, 3))
    solved_weight, _ = ridge_map(noisy, noisy_targets)
    assert np.abs(solved_weight[6]).max() < 1e-3 < np.abs(np.linalg.lstsq(noisy, noisy_targets)[0][6]).max()
    assert np.allclose(solved_weight[:6], weight, atol=0.05)


def test_static_projection_is_solved_by_least_squares_and_folds_into_the_table(tokenizer_dir):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    from embedlab.models.static import fold_projection
    from embedlab.train.distill import with_aligned_projection

    model = _tiny_static_model(tokenizer_dir)
    texts = list(dict.fromkeys(CORPUS)) + [f"sentence number {i} about graphs" for i in range(30)]
    means = SentenceTransformer(modules=[model[0]]).encode(texts)
    rng = np.random.default_rng(0)
    targets = means @ rng.standard_normal((8, 12)) + rng.standard_normal(12)  # a linear map, 8 → 12 dims
    aligned = with_aligned_projection(model, texts, targets)
    assert isinstance(aligned[1], Dense)
    expected = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    cosines = (aligned.encode(texts) * expected).sum(axis=1)
    assert cosines.min() > 0.999  # the map is recovered (up to the ridge term's shrinkage)
    folded = fold_projection(aligned)
    assert [type(m).__name__ for m in folded] == ["StaticEmbedding", "Normalize"]
    assert folded[0].embedding.weight.shape[1] == 12
    assert np.allclose(folded.encode(texts), aligned.encode(texts), atol=1e-5)


@pytest.mark.integration  # the teacher uses the packaged MiniLM tokenizer
def test_static_student_trains_against_the_teacher_and_loads_in_both_libraries(
    tiny_bert_with_real_vocabulary, tmp_path, monkeypatch
):
    monkeypatch.setenv("EMBEDLAB_CACHE_DIR", str(tmp_path / "cache"))
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    from embedlab.runtime.encoder import TorchEncoder
    from embedlab.train import train

    teacher = str(tiny_bert_with_real_vocabulary)
    static = tmp_path / "static"
    made = CliRunner().invoke(app, ["distill", "static", teacher, "--out", str(static), "--pca-dims", "16"])
    assert made.exit_code == 0, made.output
    corpus = tmp_path / "unlabelled.txt"
    corpus.write_text("\n".join(dict.fromkeys(CORPUS)) + "\n")
    config = RunConfig.model_validate(
        {
            "name": "static-student",
            "model": str(static),
            "output_dir": str(tmp_path / "runs"),
            "distill": {"teacher": teacher, "sentences": [str(corpus)], "projection": True},
            "loss": {"name": "mse"},
            "dev": None,
            "training": {"max_steps": 3, "batch_size": 4, "learning_rate": 1e-3},
            "eval": {"tasks": ["stsb:dev"], "before": True},
        }
    )
    result = train(config)
    assert result.before and result.after  # the aligned start and the trained model, both evaluated
    texts = ["a man is playing a guitar", "the stock market fell today"]
    by_st = SentenceTransformer(str(result.model_dir))
    assert [type(m).__name__ for m in by_st] == ["StaticEmbedding", "Normalize"]  # projection folded in
    vectors = by_st.encode(texts)
    assert vectors.shape == (2, 32)  # the teacher's width
    by_m2v = StaticModel.from_pretrained(str(result.model_dir)).encode(texts)
    unit = by_m2v / np.linalg.norm(by_m2v, axis=1, keepdims=True)
    assert np.allclose(vectors, unit, atol=1e-4)
    encoder = TorchEncoder(result.model_dir)  # what `embedlab serve` and `bench` use
    assert np.allclose(encoder.encode(texts), vectors, atol=1e-5)
    assert encoder.count_tokens(texts) == sum(len(t.split()) for t in texts)  # whole words in this vocabulary
    narrow = config.model_copy(
        update={"name": "narrow", "distill": config.distill.model_copy(update={"projection": False})}
    )
    with pytest.raises(ConfigError, match="equal widths"):
        train(narrow)


@pytest.mark.integration  # the teacher uses the packaged MiniLM tokenizer
def test_a_pretrained_student_of_the_teachers_width_distills_without_a_projection(
    tiny_bert_with_real_vocabulary, tmp_path, monkeypatch
):
    monkeypatch.setenv("EMBEDLAB_CACHE_DIR", str(tmp_path / "cache"))
    from sentence_transformers import SentenceTransformer

    from embedlab.train import train

    corpus = tmp_path / "unlabelled.txt"
    corpus.write_text("\n".join(dict.fromkeys(CORPUS)) + "\n")
    teacher = str(tiny_bert_with_real_vocabulary)
    config = RunConfig.model_validate(
        {
            "name": "pretrained-student",
            "model": teacher,  # projection: true is the default; this student has none to align
            "output_dir": str(tmp_path / "runs"),
            "distill": {"teacher": teacher, "sentences": [str(corpus)]},
            "loss": {"name": "mse"},
            "dev": None,
            "training": {"max_steps": 2, "batch_size": 4},
            "eval": {"tasks": [], "before": False},
        }
    )
    result = train(config)
    student = SentenceTransformer(str(result.model_dir))
    assert [type(m).__name__ for m in student] == ["Transformer", "Pooling"]
