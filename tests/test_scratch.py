"""Models from scratch: BPE tokenizer, RoBERTa-style encoder, distillation, static model2vec models."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.config import DataSource, RunConfig
from embedlab.data.sentences import (
    collect_sentences,
    entailment_pairs,
    evaluation_sentences,
    split_sentences,
)
from embedlab.data.sts import sentences as sts_sentences
from embedlab.errors import ConfigError, DataError
from embedlab.models.scratch import build_scratch_model, dividing_heads, fit_width, parameter_count
from embedlab.paths import data_dir
from embedlab.train.sources import load_source

CORPUS = [
    "A man is playing a guitar on the street.",
    "Two dogs are running through a field of flowers.",
    "The stock market fell sharply on Monday morning.",
    "We prove that every planar graph is four-colourable.",
    "Neural networks learn representations of sentences.",
    "Quantum states decohere when they interact with an environment.",
] * 20


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus") / "sentences.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("tok") / "bpe"
    result = CliRunner().invoke(
        app, ["tokenizer", "train", str(corpus), "--vocab-size", "1000", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "corpus 120 texts" in result.output and "tokens per word" in result.output
    return out


def test_tokenizer_round_trips_text_and_loads_with_auto_tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert 261 < len(tokenizer) <= 1000  # 256 bytes + 5 special tokens, then merges
    for text in [*CORPUS[:6], "Unseen words: zebra, ünïcödé and 3.14159!"]:
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == tokenizer.convert_tokens_to_ids("<s>") and ids[
            -1
        ] == tokenizer.convert_tokens_to_ids("</s>")
        assert tokenizer.decode(ids, skip_special_tokens=True) == text  # byte-level: nothing is lost
    # a frequent word (after a space, as inside a sentence) became one token
    assert len(tokenizer(" guitar", add_special_tokens=False)["input_ids"]) == 1


def expected_parameters(vocab: int, hidden: int, layers: int, intermediate: int, positions: int) -> int:
    embeddings = (vocab + positions + 1) * hidden + 2 * hidden
    layer = (
        4 * (hidden * hidden + hidden)
        + 2 * hidden
        + 2 * hidden * intermediate
        + intermediate
        + hidden
        + 2 * hidden
    )
    pooler = hidden * hidden + hidden
    return embeddings + layers * layer + pooler


def test_scratch_model_has_the_requested_shape_and_parameter_count(tokenizer_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    model = build_scratch_model(tokenizer_dir, layers=3, hidden=60, heads=8, max_length=32)
    config = model[0].auto_model.config
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (3, 60, 240)
    assert config.num_attention_heads == dividing_heads(60, 8) == 6
    vocab = len(AutoTokenizer.from_pretrained(str(tokenizer_dir)))
    assert parameter_count(model) == expected_parameters(vocab, 60, 3, 240, 34)
    assert model.max_seq_length == 32
    model.save(str(tmp_path / "m"))
    loaded = SentenceTransformer(str(tmp_path / "m"))
    text = ["A man is playing a guitar."]
    assert np.allclose(loaded.encode(text), model.encode(text), atol=1e-5)
    projected = build_scratch_model(tokenizer_dir, layers=1, hidden=24, heads=4, projection_dim=16)
    assert projected.encode(text).shape == (1, 16)
    with pytest.raises(ConfigError, match="embedlab tokenizer train"):
        build_scratch_model(tmp_path / "nothing")


def gram(vectors: np.ndarray) -> np.ndarray:
    return vectors @ vectors.T


def test_fit_width_keeps_geometry_when_widening_and_takes_principal_axes_when_narrowing():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1]) + 7.0
    centred = vectors - vectors.mean(axis=0)
    widened = fit_width(vectors, 10)
    assert widened.shape == (40, 10) and np.allclose(gram(widened), gram(centred))
    narrowed = fit_width(vectors, 2)
    assert narrowed.shape == (40, 2)
    kept = np.var(narrowed, axis=0).sum() / np.var(centred, axis=0).sum()
    assert kept > 0.95  # the two widest axes hold 34 of 35.3 units of variance


def test_warm_started_encoder_begins_as_a_bag_of_its_token_vectors(tokenizer_dir):
    import torch
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(str(tokenizer_dir)))
    vectors = np.random.default_rng(1).standard_normal((vocab, 12))
    model = build_scratch_model(tokenizer_dir, layers=2, hidden=24, heads=4, token_vectors=vectors)
    backbone = model[0].auto_model.eval()
    table = backbone.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64)
    rows = [5, 40, 90, 200]  # token rows (not padding): their geometry is the vectors', scaled
    expected = gram(vectors[rows] - vectors.mean(axis=0))
    assert np.corrcoef(gram(table[rows]).ravel(), expected.ravel())[0, 1] > 0.999
    text = "A man is playing a guitar on the street."
    features = model.tokenize([text])
    with torch.no_grad():
        token_states = backbone.embeddings(input_ids=features["input_ids"])
    # every layer is the identity, so the sentence embedding is the mean of the embedding layer's output
    assert np.allclose(model.encode([text])[0], token_states[0].mean(dim=0).numpy(), atol=1e-5)
    random_start = build_scratch_model(tokenizer_dir, layers=2, hidden=24, heads=4)
    assert not np.allclose(random_start.encode([text])[0], model.encode([text])[0], atol=1e-3)
    with pytest.raises(ConfigError, match="rows"):
        build_scratch_model(tokenizer_dir, layers=1, hidden=24, heads=4, token_vectors=vectors[:10])


def test_sentences_never_include_evaluation_sides_and_abstracts_split(tmp_path):
    held_out = evaluation_sentences()
    test_sentence = sts_sentences("stsb", "test")[0]
    assert test_sentence in held_out
    corpus = tmp_path / "mixed.txt"
    corpus.write_text(f"{test_sentence}\nA sentence only found in training files.\n", encoding="utf-8")
    kept, removed = collect_sentences([str(corpus)])
    assert kept == ["A sentence only found in training files."] and removed == 1
    abstract = "We study graphs, e.g. trees here. $G$ is a planar graph here. Short. Finally (a) follows."
    assert split_sentences(abstract) == [
        "We study graphs, e.g. trees here.",  # no split before a lower-case word
        "$G$ is a planar graph here.",
        "Finally (a) follows.",  # "Short." is under 20 characters: dropped
    ]


def test_nli_entailment_pairs_for_supervised_simcse():
    pairs, removed = entailment_pairs(["snli:dev"])
    with gzip.open(data_dir() / "nli" / "snli_dev.jsonl.gz", "rt") as lines:
        rows = [json.loads(line) for line in lines]
    labels = {(" ".join(r["premise"].split()), " ".join(r["hypothesis"].split())): r["label"] for r in rows}
    assert 2_500 < len(pairs) < 3_400 and removed > 0  # SNLI dev shares caption sentences with SICK
    assert all(labels[pair] == "entailment" for pair in pairs)
    held_out = evaluation_sentences()
    assert not any(premise in held_out or hypothesis in held_out for premise, hypothesis in pairs)
    two_sources = ["snli:dev", "mnli:train-sample"]
    limited, _ = entailment_pairs(two_sources, limit=100, seed=1)
    assert len(limited) == 100 and limited == entailment_pairs(two_sources, limit=100, seed=1)[0]
    dataset, _ = load_source(DataSource(nli=["snli:dev"], max_pairs=50))
    assert dataset.column_names == ["anchor", "positive"] and len(dataset) == 50
    assert labels[(dataset[0]["anchor"], dataset[0]["positive"])] == "entailment"
    with pytest.raises(DataError, match="unknown NLI source 'arxiv'"):
        entailment_pairs(["arxiv"])


def test_nli_row_without_a_label_is_named_by_file_and_line(tmp_path, monkeypatch):
    for folder in data_dir().iterdir():  # the real benchmarks (for the held-out sentences), a broken NLI file
        if folder.is_dir() and folder.name != "nli":
            (tmp_path / folder.name).symlink_to(folder)
    (tmp_path / "nli").mkdir()
    good = {"premise": "A dog runs.", "hypothesis": "An animal moves.", "label": "entailment"}
    with gzip.open(tmp_path / "nli" / "snli_dev.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(good) + "\n" + json.dumps({"premise": "A cat sleeps."}) + "\n")
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"snli_dev.jsonl.gz.*line 2"):
        entailment_pairs(["snli:dev"])


def test_nli_pairs_need_an_in_batch_negatives_loss_and_are_no_dev_set():
    base = {"name": "nli", "model": "all-MiniLM-L6-v2", "train": {"nli": ["snli:dev"]}}
    assert RunConfig.model_validate({**base, "loss": {"name": "mnrl"}}).train.describe() == (
        "entailment pairs of snli:dev"
    )
    with pytest.raises(ValueError, match="mnrl or cached-mnrl"):
        RunConfig.model_validate({**base, "loss": {"name": "cosent"}})
    with pytest.raises(ValueError, match="dev needs scored pairs"):
        RunConfig.model_validate({**base, "loss": {"name": "mnrl"}, "dev": {"nli": ["snli:dev"]}})
    with pytest.raises(ValueError, match="exactly one"):
        DataSource(nli=["snli:dev"], task="stsb")


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
    assert len(list((tmp_path / "cache" / "teacher").glob("teacher-*.npy"))) == 1  # reused by later runs
    evaluated = CliRunner().invoke(
        app, ["eval", str(result.model_dir), "--tasks", "stsb:dev", "--out", str(tmp_path / "e.json")]
    )
    assert evaluated.exit_code == 0, evaluated.output


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


@pytest.fixture(scope="module")
def tiny_bert_with_real_vocabulary(tmp_path_factory) -> Path:
    """A 1-layer, 32-wide random BERT with MiniLM's real 30k WordPiece vocabulary: a quick teacher."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel

    from embedlab.models.registry import resolve

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-real-vocab")
    tokenizer = AutoTokenizer.from_pretrained(resolve("all-MiniLM-L6-v2"))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(root / "backbone")
    tokenizer.save_pretrained(root / "backbone")
    modules = [Transformer(str(root / "backbone"), max_seq_length=64), Pooling(32, pooling_mode="mean")]
    SentenceTransformer(modules=modules, device="cpu").save(str(root / "model"), create_model_card=False)
    return root / "model"


def test_static_model_loads_in_sentence_transformers_and_model2vec(tiny_bert_with_real_vocabulary, tmp_path):
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    teacher = str(tiny_bert_with_real_vocabulary)
    out = tmp_path / "static"
    result = CliRunner().invoke(app, ["distill", "static", teacher, "--out", str(out), "--pca-dims", "16"])
    assert result.exit_code == 0, result.output
    texts = ["a man is playing a guitar", "the stock market fell today"]
    by_st = SentenceTransformer(str(out)).encode(texts)
    by_m2v = StaticModel.from_pretrained(str(out)).encode(texts)
    assert by_st.shape == (2, 16) and not np.allclose(by_st[0], by_st[1])
    assert np.allclose(by_st, by_m2v, atol=1e-3)
    assert "STS" in (out / "README.md").read_text() and "model2vec" in (out / "README.md").read_text()
    again = CliRunner().invoke(app, ["distill", "static", teacher, "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


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
