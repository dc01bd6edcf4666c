"""Classification: trained on planted topics, saved without pickle, reloaded, refused for another model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.apps.classify import labels_of, train_classifier
from embedlab.cli import app
from embedlab.errors import DataError, EmbedlabError
from embedlab.models.classifier import Classifier, check_classifier_model
from tests.corpora import BagOfWordsEncoder, topic_texts


def test_planted_topics_are_learned_saved_as_arrays_and_reloaded(tmp_path):
    texts, topics = topic_texts()
    vectors = BagOfWordsEncoder().encode(texts)
    model = {"name": "bag", "path": "bag", "fingerprint": "f" * 64, "pooling": "none", "normalize": True}
    classifier, result = train_classifier(vectors, topics, model=model)
    assert result.accuracy == 1.0 and result.test_size == 12
    classifier.save(tmp_path / "clf")
    names = {p.name for p in (tmp_path / "clf").iterdir()}
    assert names == {"classifier.npz", "classifier.json", ".embedlab.json"}
    reloaded = Classifier.load(tmp_path / "clf")
    labels, confidence = reloaded.predict(vectors)
    assert labels == topics and np.all(confidence > 1 / 3)
    probabilities = reloaded.probabilities(vectors)
    assert np.allclose(probabilities.sum(axis=1), 1)
    with pytest.raises(EmbedlabError, match="256-d vectors"):
        check_classifier_model(reloaded, model, 384, "clf")
    with pytest.raises(EmbedlabError, match="trained on vectors of"):
        check_classifier_model(reloaded, {**model, "fingerprint": "0" * 64}, 256, "clf")


def test_binary_labels_use_one_logit():
    texts, topics = topic_texts()
    two = [(t, label) for t, label in zip(texts, topics, strict=True) if label != "sport"]
    vectors = BagOfWordsEncoder().encode([t for t, _ in two])
    classifier, result = train_classifier(vectors, [label for _, label in two], model={"name": "bag"})
    assert classifier.weights.shape[0] == 1 and result.accuracy == 1.0


def test_labels_and_broken_folders_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="record 2, field 'topic'"):
        labels_of([{"topic": "a"}, {"topic": ""}], "topic", "docs.jsonl")
    with pytest.raises(EmbedlabError, match="one label only"):
        train_classifier(np.eye(4), ["a"] * 4, model={})
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "classifier.json").write_text("{}")
    with pytest.raises(EmbedlabError, match="not a classifier folder"):
        Classifier.load(tmp_path / "bad")


def test_cli_classify_train_and_predict(tiny_model_dir, other_model_dir, tmp_path):
    texts, topics = topic_texts(per_topic=8)
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": t, "topic": c}) + "\n"
            for i, (t, c) in enumerate(zip(texts, topics, strict=True))
        )
    )
    runner = CliRunner()
    out = tmp_path / "clf"
    trained = runner.invoke(
        app,
        [
            "classify",
            "train",
            str(docs),
            "--label-field",
            "topic",
            "-m",
            str(tiny_model_dir),
            "--out",
            str(out),
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "3 labels" in trained.output and "macro-F1" in trained.output
    predicted = runner.invoke(app, ["classify", "predict", str(out), str(docs), "--out", str(tmp_path / "p")])
    assert predicted.exit_code == 0, predicted.output
    rows = [json.loads(line) for line in (tmp_path / "p" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and {r["label"] for r in rows} <= set(topics)
    other = runner.invoke(app, ["classify", "predict", str(out), str(docs), "--model", str(other_model_dir)])
    assert other.exit_code == 2 and "trained on vectors of" in other.stderr


@pytest.mark.parametrize(
    "tamper",
    [
        lambda folder: (folder / "classifier.npz").write_bytes(b"not a zip"),
        lambda folder: (folder / "classifier.npz").write_bytes(b"PK\x03\x04" + b"\0" * 60),  # a cut zip
        lambda folder: _edit_json(folder, labels=["only-one"]),
        lambda folder: _edit_json(folder, dim=7),
        lambda folder: _edit_json(folder, labels=["a", "a", "b"]),
        lambda folder: (folder / "classifier.json").write_text("{"),
    ],
)
def test_a_tampered_classifier_is_refused_in_one_line(tamper, tmp_path):
    from embedlab.errors import EmbedlabError

    texts, topics = topic_texts()
    vectors = BagOfWordsEncoder().encode(texts)
    model = {"name": "bag", "path": "bag", "fingerprint": "f" * 64, "pooling": "none", "normalize": True}
    classifier, _ = train_classifier(vectors, topics, model=model)
    folder = classifier.save(tmp_path / "clf")
    tamper(folder)
    with pytest.raises(EmbedlabError, match="classifier"):
        Classifier.load(folder)


def _edit_json(folder, **changes):
    import json

    path = folder / "classifier.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
