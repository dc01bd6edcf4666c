"""Fine-tuning for retrieval on a user's own documents: held-out queries never trained on, mined negatives
never relevant, the field mapping checked before any work, the held-out figures reproducible by `eval`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from embedlab.config import RetrievalData, RunConfig
from embedlab.data.retrieval_data import read_documents, read_pairs, split_queries
from embedlab.errors import DataError
from tests.conftest import VOCAB_TEXT

WORDS = sorted(set(VOCAB_TEXT.split()))
LABELS = ("red", "green", "blue")


def write_documents(path: Path, count: int = 240, seed: int = 0) -> Path:
    """Documents that contain their query's three words among twelve others: learnable, not trivial."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            query = rng.sample(WORDS, 3)
            words = query + rng.choices(WORDS, k=12)
            rng.shuffle(words)
            row = {"id": f"p{number}", "title": " ".join(query), "abstract": " ".join(words)}
            out.write(json.dumps({**row, "cat": LABELS[number % 3]}) + "\n")
    return path


def retrieval_config(tmp_path: Path, model_dir: Path, docs: Path, **retrieval) -> RunConfig:
    return RunConfig.model_validate(
        {
            "name": "adapt",
            "model": str(model_dir),
            "output_dir": str(tmp_path / "runs"),
            "retrieval": {"documents": str(docs), "query_field": "title", "document_field": "abstract",
                          "held_out": 0.2, "dev_queries": 24, "corpus_size": 200, **retrieval},
            "training": {"epochs": 3, "batch_size": 16, "learning_rate": 2e-3, "logging_steps": 5},
            "eval": {"tasks": [], "before": True},
        }
    )  # fmt: skip


def test_split_is_by_query_reproducible_and_keeps_held_out_documents_out_of_training(tmp_path):
    rows = read_documents(
        write_documents(tmp_path / "d.jsonl"), query_field="title", document_field="abstract"
    )
    first = split_queries(rows, held_out=0.2, dev_queries=24, seed=1)
    again = split_queries(rows, held_out=0.2, dev_queries=24, seed=1)
    assert first.test.queries == again.test.queries and first.train == again.train
    assert split_queries(rows, held_out=0.2, dev_queries=24, seed=2).test.queries != first.test.queries
    assert len(first.test.queries) == 48 and len(first.dev.queries) == 24 and len(first.train) == 168
    held = {doc for qrels in (first.test.qrels, first.dev.qrels) for docs in qrels.values() for doc in docs}
    assert not held & {doc for row in first.train for doc in row.positives}
    assert held.issubset(set(first.test.corpus) | set(first.dev.corpus))
    # the split of a query depends on its text, not on where it sits in the file
    shuffled = rows.__class__(list(reversed(rows.queries)), rows.documents, rows.labels)
    assert sorted(
        split_queries(shuffled, held_out=0.2, dev_queries=24, seed=1).test.queries.values()
    ) == sorted(first.test.queries.values())


def test_field_mapping_errors_name_file_row_and_field_before_any_encoding(tmp_path):
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"title": "a man", "abstract": "a man plays"}\n{"title": "", "abstract": "a dog"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl.*(row|line) 2.*title"):
        read_documents(docs, query_field="title", document_field="abstract")
    with pytest.raises(DataError, match="heading"):
        read_documents(docs, query_field="heading", document_field="abstract")
    pairs = tmp_path / "p.csv"
    pairs.write_text("query,positive,negative\nwho,a man,a dog\nwhat,a cat,\n")
    rows = read_pairs(pairs)
    assert [row.negatives for row in rows.queries] == [("a dog",), ()]
    assert len(rows.documents) == 3  # positives and negatives are all documents


def test_config_defaults_and_checks_for_retrieval_runs(tmp_path):
    config = retrieval_config(tmp_path, Path("m"), tmp_path / "d.jsonl")
    assert config.loss.name == "mnrl" and config.dev is None
    with pytest.raises(ValueError, match="remove 'dev'"):
        RunConfig.model_validate({**config.model_dump(), "dev": {"task": "stsb", "split": "dev"}})
    with pytest.raises(ValueError, match="mnrl or cached-mnrl"):
        RunConfig.model_validate({**config.model_dump(), "loss": {"name": "cosent"}})
    with pytest.raises(ValueError, match="query_field and document_field"):
        RetrievalData(documents="d.jsonl", query_field="title")
    with pytest.raises(ValueError, match="not both"):
        RetrievalData(documents="d.jsonl", pairs="p.csv", query_field="t", document_field="a")


def test_mined_negatives_are_never_a_positive_nor_of_the_query_label(tmp_path, tiny_model):
    from embedlab.train.retrieval import mine_negatives

    rows = read_documents(write_documents(tmp_path / "d.jsonl", 60), query_field="title",
                          document_field="abstract", label_field="cat")  # fmt: skip
    labels = {rows.documents[d]: rows.labels[d] for d in rows.documents}
    pairs = [
        {"anchor": r.query, "positive": rows.documents[r.positives[0]], "label": r.label}
        for r in rows.queries
    ]
    mined = mine_negatives(tiny_model, pairs, list(rows.documents.values()), count=2, labels=labels,
                           relative_margin=None)  # fmt: skip
    assert len(mined) > len(pairs) // 2
    for pair in mined:
        negatives = [pair["negative_1"], pair["negative_2"]]
        assert pair["positive"] not in negatives and len(set(negatives)) == 2
        assert all(labels[text] != pair["label"] for text in negatives)


def test_fine_tuning_raises_held_out_ndcg_and_eval_reproduces_it(tmp_path, tiny_model_dir):
    from sentence_transformers import SentenceTransformer

    from embedlab.evaluate.suite import evaluate_suite
    from embedlab.train import train

    docs = write_documents(tmp_path / "d.jsonl")
    config = retrieval_config(
        tmp_path, tiny_model_dir, docs, label_field="cat", hard_negatives=1, relative_margin=None
    )
    result = train(config)
    ndcg = {r.metric: r.value for r in result.after if r.task == "retrieval:held-out"}["ndcg@10"]
    before = {r.metric: r.value for r in result.before if r.task == "retrieval:held-out"}["ndcg@10"]
    assert ndcg > before + 5, (before, ndcg)
    assert result.best_dev_spearman is not None  # the dev nDCG@10 that chose the checkpoint
    held_out = config.run_dir / "held-out"
    assert {p.name for p in held_out.iterdir()} >= {"corpus.jsonl", "queries.jsonl", "qrels"}
    # the card's figure is what `embedlab eval` gives the saved model on the saved task
    again = evaluate_suite(str(result.model_dir), f"retrieval:{held_out}").retrieval
    assert {r.metric: r.value for r in again}["ndcg@10"] == pytest.approx(ndcg, abs=1e-6)
    card = (result.model_dir / "README.md").read_text()
    assert "best dev nDCG@10" in card and "title → abstract" in card
    SentenceTransformer(str(result.model_dir), device="cpu")  # loads as sentence-transformers loads it


def test_adapt_command_trains_and_a_bad_field_is_one_line_before_any_work(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from embedlab.cli import app

    docs = write_documents(tmp_path / "papers.jsonl", 120)
    out = tmp_path / "runs" / "adapt-papers"
    base = ["adapt", str(docs), "--query-field", "title", "-m", str(tiny_model_dir), "--tasks", ""]
    bad = CliRunner().invoke(app, [*base, "--document-field", "body", "--out", str(out)])
    assert bad.exit_code == 2 and "body" in bad.output and "papers.jsonl" in bad.output
    assert "Traceback" not in bad.output and not out.exists()  # nothing made before the data was read
    ok = CliRunner().invoke(
        app, [*base, "--document-field", "abstract", "--out", str(out), "--hard-negatives", "0"]
    )
    assert ok.exit_code == 0, ok.output
    assert "retrieval, held-out queries" in ok.output and "ndcg@10" in ok.output
    assert (out / "model" / "README.md").is_file() and (out / "held-out" / "corpus.jsonl").is_file()
    again = CliRunner().invoke(app, [*base, "--document-field", "abstract", "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output  # an earlier run is never replaced unasked


def test_label_positives_are_training_documents_of_the_querys_label(tmp_path):
    from embedlab.data.retrieval_data import training_pairs
    from embedlab.train.retrieval import label_positives, with_label_relevance

    rows = read_documents(write_documents(tmp_path / "d.jsonl", 90), query_field="title",
                          document_field="abstract", label_field="cat")  # fmt: skip
    splits = split_queries(rows, held_out=0.2, dev_queries=12, corpus_size=60, seed=1)
    pairs = training_pairs(splits.train, rows.documents)
    moved = label_positives(pairs, splits.train, rows, 0.5, seed=1)
    label_of = {rows.documents[d]: rows.labels[d] for d in rows.documents}
    trained = {rows.documents[d] for row in splits.train for d in row.positives}
    changed = [(a, b) for a, b in zip(pairs, moved, strict=True) if a["positive"] != b["positive"]]
    assert 0.3 * len(pairs) < len(changed) < 0.7 * len(pairs)  # about half, seeded
    for before, after in changed:
        assert label_of[after["positive"]] == before["label"] and after["positive"] in trained
    assert label_positives(pairs, splits.train, rows, 0.5, seed=1) == moved
    dev = with_label_relevance(splits.dev, rows.labels)
    for query, judged in dev.qrels.items():
        own = next(iter(splits.dev.qrels[query]))
        assert set(judged) == {d for d in dev.corpus if rows.labels[d] == rows.labels[own]}
    with pytest.raises(ValueError, match="name label_field"):
        RetrievalData(documents="d.jsonl", query_field="t", document_field="a", label_positives=0.5)


def test_adapt_label_positives_needs_a_label_field_one_line(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from embedlab.cli import app

    docs = write_documents(tmp_path / "papers.jsonl", 30)
    args = ["adapt", str(docs), "--query-field", "title", "--document-field", "abstract",
            "-m", str(tiny_model_dir), "--label-positives", "0.5",
            "--out", str(tmp_path / "runs" / "a")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "label_field" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()
