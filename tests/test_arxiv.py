"""arXiv domain adaptation: preprocessing and splits, pairs, retrieval and classification metrics, the
TF-IDF baseline and the pipeline's stage cache — on a small generated corpus."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from embedlab.data.arxiv import ArxivSettings, load_split, normalise_text, prepare_arxiv
from embedlab.data.pairs import contrastive_dataset, labelled_dataset, mine_hard_negatives, positive_pairs
from embedlab.errors import DataError
from embedlab.evaluate.classification import classify_embeddings
from embedlab.evaluate.retrieval import evaluate_embeddings, query_metrics, retrieval_inputs
from embedlab.evaluate.tfidf import fit_vectorizer, tfidf_classification, tfidf_retrieval

SUBJECT_WORDS = {
    "math": ["two", "three", "some", "of", "and", "to", "with", "at", "on", "in"],
    "cs": ["plane", "car", "street", "air", "flying", "riding", "horse", "kite"],
    "q-bio": ["dog", "cat", "child", "kid", "people", "person", "woman", "man"],
    "physics": ["sun", "shining", "sunny", "day", "water", "air", "off", "taking"],
}
CATEGORIES = {
    "math": ["math.PR", "math.CO"],
    "cs": ["cs.LG"],
    "q-bio": ["q-bio.NC"],
    "physics": ["physics.optics"],
}


def _paper(number: int, subject: str, rng: random.Random) -> dict:
    words = SUBJECT_WORDS[subject]
    category = rng.choice(CATEGORIES[subject])
    return {
        "id": f"{2001 + number // 1000}.{number % 1000:05d}",
        "title": " ".join(rng.choices(words, k=5)) + f" {number}",
        "abstract": "  ".join(rng.choices(words, k=30)) + f"\n number {number}",
        "categories": [category],
        "primary_category": category,
        "primary_subject": subject,
        "year": 2001,
    }


def write_corpus(path: Path, per_subject: int = 40) -> Path:
    rng = random.Random(0)
    lines = []
    number = 0
    for subject in SUBJECT_WORDS:
        for _ in range(per_subject):
            lines.append(json.dumps(_paper(number, subject, rng)))
            number += 1
    for _ in range(5):  # a subject too small to keep
        lines.append(json.dumps({**_paper(number, "math", rng), "primary_subject": "econ"}))
        number += 1
    lines.append("{not json")
    lines.append(json.dumps({**_paper(number, "cs", rng), "abstract": None}))
    lines.append(json.dumps({**_paper(number + 1, "cs", rng), "title": "   "}))
    lines.append(lines[0])  # a duplicate
    rng.shuffle(lines)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("arxiv") / "papers.jsonl.gz")


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "splits"
    prepare_arxiv(corpus, out, ArxivSettings(min_papers=10, eval_fraction=0.2, test_fraction=0.25))
    return out


def test_normalise_text_collapses_whitespace():
    assert normalise_text("  Spectral\n gaps\tof  graphs ") == "Spectral gaps of graphs"


def test_bad_records_are_counted_with_their_line_and_small_labels_set_aside(prepared, corpus):
    manifest = json.loads((prepared / "manifest.json").read_text())
    aside = manifest["set_aside"]
    assert aside["invalid JSON"] == 1
    assert aside["missing or non-text field 'abstract'"] == 1
    assert aside["empty title or abstract"] == 1
    assert aside["duplicate (id, title or abstract seen before)"] == 1
    assert aside["label with fewer than 10 papers"] == 5
    assert manifest["set_aside_examples"]["invalid JSON"][0].startswith(f"{corpus}:")
    assert manifest["papers"] == 160 and manifest["labels"] == 4


def test_stratified_split_keeps_every_subject_in_every_split_and_no_paper_in_two(prepared):
    splits = {split: load_split(prepared, split) for split in ("train", "eval", "test")}
    ids = [p["id"] for papers in splits.values() for p in papers]
    assert len(ids) == len(set(ids)) == 160
    for papers in splits.values():
        assert {p["label"] for p in papers} == set(SUBJECT_WORDS)
    test_counts = {label: sum(p["label"] == label for p in splits["test"]) for label in SUBJECT_WORDS}
    assert set(test_counts.values()) == {10}  # 25 % of 40 in each subject
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["per_label"]["cs"] == {"train": 22, "eval": 8, "test": 10}
    assert "  " not in splits["train"][0]["abstract"]  # normalised


def test_label_level_category_and_errors(corpus, tmp_path):
    manifest = prepare_arxiv(corpus, tmp_path / "c", ArxivSettings(label_level="category", min_papers=10))
    assert {"math.PR", "math.CO", "cs.LG"} <= set(manifest["per_label"])
    with pytest.raises(DataError, match="only 0 label"):
        prepare_arxiv(corpus, tmp_path / "d", ArxivSettings(min_papers=1000))
    with pytest.raises(DataError, match="cannot read"):
        prepare_arxiv(tmp_path / "missing.jsonl", tmp_path / "e")
    assert not (tmp_path / "d").exists()


def test_pairs_stay_inside_their_split_and_follow_their_kind(prepared):
    train = load_split(prepared, "train")
    pairs = positive_pairs(train, 60, ["same-label", "title-abstract"], seed=1)
    assert len(pairs) == 60
    same_paper = [(a, p) for a, p in pairs if a == p]
    assert len(same_paper) == 30  # the title-abstract half
    assert all(train[a]["label"] == train[p]["label"] for a, p in pairs)
    dataset = contrastive_dataset(train, pairs, anchor_field="title", positive_field="abstract")
    train_titles = {p["title"] for p in train}
    train_abstracts = {p["abstract"] for p in train}
    assert set(dataset["anchor"]) <= train_titles and set(dataset["positive"]) <= train_abstracts
    other_splits = {p["abstract"] for s in ("eval", "test") for p in load_split(prepared, s)}
    assert not set(dataset["positive"]) & other_splits

    labelled = labelled_dataset(train, 40, anchor_field="title", positive_field="abstract", seed=3)
    by_title = {p["title"]: p["label"] for p in train}
    by_abstract = {p["abstract"]: p["label"] for p in train}
    assert sorted(set(labelled["score"])) == [0.0, 1.0] and sum(labelled["score"]) == 20
    for row in labelled:
        same = by_title[row["sentence1"]] == by_abstract[row["sentence2"]]
        assert same == (row["score"] == 1.0)


class WordCountEncoder:
    """Bag-of-subject-words vectors: papers of a subject are near each other."""

    dim = len(SUBJECT_WORDS)
    max_seq_length = 128

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        return np.array(
            [
                [sum(t.split().count(w) for w in words) + 0.1 for words in SUBJECT_WORDS.values()]
                for t in texts
            ],
            dtype=np.float32,
        )


def test_hard_negatives_are_near_but_of_another_label(prepared):
    train = load_split(prepared, "train")
    pairs = positive_pairs(train, 20, ["title-abstract"], seed=2)
    negatives = mine_hard_negatives(train, pairs, WordCountEncoder(), pool=1000)
    assert len(negatives) == 20
    assert all(train[n]["label"] != train[a]["label"] for (a, _), n in zip(pairs, negatives, strict=True))


def test_metrics_match_a_hand_computed_example():
    # relevant: a, c, e (3 documents); ranking: b a c d e ...
    metrics = query_metrics(["b", "a", "c", "d", "e", "f", "g", "h", "i", "j"], {"a", "c", "e"})
    assert metrics["precision@1"] == 0
    assert metrics["precision@5"] == pytest.approx(3 / 5)
    assert metrics["precision@10"] == pytest.approx(3 / 10)
    assert metrics["recall@10"] == pytest.approx(1.0)
    assert metrics["mrr@10"] == pytest.approx(1 / 2)
    dcg = 1 / np.log2(3) + 1 / np.log2(4) + 1 / np.log2(6)
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert metrics["ndcg@10"] == pytest.approx(dcg / ideal)
    assert metrics["map@100"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3)


def test_retrieval_metrics_agree_with_sentence_transformers_evaluator(prepared, tiny_model):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    test = load_split(prepared, "test")
    inputs = retrieval_inputs(test, "title", "abstract")
    theirs = InformationRetrievalEvaluator(
        inputs.queries, inputs.corpus, inputs.relevant, name="t", precision_recall_at_k=[1, 5, 10]
    )(tiny_model)
    ours = evaluate_embeddings(
        inputs,
        tiny_model.encode(list(inputs.queries.values())),
        tiny_model.encode(list(inputs.corpus.values())),
    ).metrics
    assert 0 < ours["precision@10"] < 1  # a non-trivial ranking
    for name, value in ours.items():
        assert value == pytest.approx(theirs[f"t_cosine_{name}"], abs=1e-6), name


def test_classification_and_tfidf_baseline_on_the_fixture_corpus(prepared):
    train, test = load_split(prepared, "train"), load_split(prepared, "test")
    train_labels, test_labels = [p["label"] for p in train], [p["label"] for p in test]
    encoder = WordCountEncoder()
    result = classify_embeddings(
        encoder.encode([p["abstract"] for p in train]),
        train_labels,
        encoder.encode([p["abstract"] for p in test]),
        test_labels,
    )
    assert result.accuracy == 1.0 and result.macro_f1 == 1.0
    vectorizer = fit_vectorizer([p["abstract"] for p in train])
    baseline = tfidf_classification(
        vectorizer, [p["abstract"] for p in train], train_labels, [p["abstract"] for p in test], test_labels
    )
    assert baseline.accuracy > 0.9
    retrieval = tfidf_retrieval(vectorizer, retrieval_inputs(test, "abstract", "abstract"))
    assert retrieval.metrics["precision@1"] == 1.0  # each abstract finds itself first
    assert retrieval.metrics["precision@10"] > 0.8
    assert [r.metric for r in retrieval.records()][:3] == ["precision@1", "precision@5", "precision@10"]


def _pipeline_config(corpus: Path, model_dir: Path, out: Path, **overrides):
    from embedlab.apps.arxiv.config import PipelineConfig

    raw = {
        "name": "tiny",
        "model": str(model_dir),
        "output_dir": str(out),
        "data": {"path": str(corpus), "min_papers": 10, "eval_fraction": 0.2, "test_fraction": 0.25},
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
        raw[section][key] = value
    return PipelineConfig.model_validate(raw)


def test_pipeline_runs_end_to_end_then_skips_unchanged_stages_and_reruns_changed_ones(
    corpus, tiny_model_dir, tmp_path
):
    from sentence_transformers import SentenceTransformer

    from embedlab.apps.arxiv.pipeline import run_pipeline

    first = run_pipeline(_pipeline_config(corpus, tiny_model_dir, tmp_path), log=lambda line: None)
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

    again = run_pipeline(_pipeline_config(corpus, tiny_model_dir, tmp_path), log=lambda line: None)
    assert again.ran == {} and len(again.skipped) == 6

    changed = run_pipeline(
        _pipeline_config(corpus, tiny_model_dir, tmp_path, pairs__train_pairs=24), log=lambda line: None
    )
    assert set(changed.ran) == {"pairs", "train", "evaluate-finetuned"}
    assert set(changed.skipped) == {"preprocess", "evaluate-base", "evaluate-tfidf"}


def test_cli_prepares_splits_and_evaluates_models_and_the_baseline(corpus, tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from embedlab.cli import app

    runner = CliRunner()
    out = tmp_path / "splits"
    prepared = runner.invoke(app, ["data", "arxiv", str(corpus), "--out", str(out), "--min-papers", "10"])
    assert prepared.exit_code == 0, prepared.output
    assert "set aside 1: invalid JSON" in prepared.output and (out / "test.parquet").is_file()
    for model in ("tfidf", str(tiny_model_dir)):
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
                str(tmp_path / "r.json"),
            ],
        )
        assert result.exit_code == 0, result.output
        metrics = {r["metric"] for r in json.loads((tmp_path / "r.json").read_text())["records"]}
        assert {"precision@10", "ndcg@10", "map@100", "accuracy", "macro_f1"} <= metrics
    refused = runner.invoke(app, ["eval", "tfidf", "--tasks", "stsb"])
    assert refused.exit_code == 2 and "TF-IDF" in refused.output


def test_balanced_pairs_draw_every_label_equally_often():
    papers = [{"label": "big", "title": f"b{i}", "abstract": f"B{i}"} for i in range(90)]
    papers += [{"label": "small", "title": f"s{i}", "abstract": f"S{i}"} for i in range(10)]
    plain = positive_pairs(papers, 200, ["same-label"], seed=0)
    balanced = positive_pairs(papers, 200, ["same-label"], balance=True, seed=0)
    assert sum(papers[a]["label"] == "small" for a, _ in plain) < 40  # about 10 %
    assert sum(papers[a]["label"] == "small" for a, _ in balanced) == 100
    assert all(papers[a]["label"] == papers[p]["label"] and a != p for a, p in balanced)
