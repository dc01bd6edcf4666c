"""Retrieval metrics equal to pytrec_eval's (the scorer BEIR and MTEB use), graded relevance and ties
included; the BEIR-layout loader and its one-line refusals; `eval --tasks retrieval:DIR`, a model and BM25."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.data.beir import RetrievalTask, load_beir, write_beir
from embedlab.errors import DataError, EmbedlabError
from embedlab.evaluate.ir_metrics import (
    MEASURES,
    mean_measures,
    query_measures,
    rank_by_vectors,
    trec_ranking,
)
from tests.corpora import BagOfWordsEncoder

PYTREC = {  # pytrec_eval's name for each of ours (mrr@10 is recip_rank over the top 10, as MTEB does it)
    "ndcg@10": "ndcg_cut_10",
    "map@100": "map_cut_100",
    "recall@10": "recall_10",
    "recall@100": "recall_100",
    "precision@10": "P_10",
}


def test_ties_are_ordered_as_trec_eval_orders_them():
    assert trec_ranking({"a": 0.5, "b": 0.5, "c": 0.9, "d": 0.1}) == ["c", "b", "a", "d"]
    measures = query_measures(["d3", "d1", "d2"], {"d1": 2, "d2": 1, "d9": 0})
    assert measures["mrr@10"] == 0.5 and measures["recall@10"] == 1.0 and measures["precision@10"] == 0.2
    assert measures["ndcg@10"] == pytest.approx((2 / np.log2(3) + 1 / 2) / (2 + 1 / np.log2(3)))


@pytest.mark.integration
def test_the_measures_equal_pytrec_eval_on_real_arxiv_papers_with_graded_relevance():
    """Titles of 150 real arXiv papers against 600 abstracts: the paper's own abstract is grade 2, the other
    papers of its category grade 1 (the graded task of issue 36); TF-IDF scores rounded to 1 decimal, so
    that many documents tie and the tie order matters."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    from sklearn.feature_extraction.text import TfidfVectorizer

    from embedlab.paths import data_dir

    with gzip.open(data_dir() / "arxiv" / "papers.jsonl.gz", "rt", encoding="utf-8") as handle:
        papers = [json.loads(line) for line in islice(handle, 600)]
    queries = {f"q{p['id']}": p["title"] for p in papers[::4]}
    corpus = {p["id"]: p["abstract"] for p in papers}
    category = {p["id"]: p["primary_category"] for p in papers}
    qrels = {
        f"q{p['id']}": {d: 2 if d == p["id"] else 1 for d in corpus if category[d] == category[p["id"]]}
        for p in papers[::4]
    }
    vectorizer = TfidfVectorizer().fit(list(corpus.values()))
    scores = np.round(
        (
            vectorizer.transform(list(queries.values())) @ vectorizer.transform(list(corpus.values())).T
        ).toarray(),
        1,
    )
    doc_ids = list(corpus)
    run = {
        q: trec_ranking({d: float(s) for d, s in zip(doc_ids, row, strict=True)})
        for q, row in zip(queries, scores, strict=True)
    }
    ours = mean_measures(run, qrels)

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "map_cut.100", "recall.10,100", "P.10"})
    run_scores = {
        q: {d: float(scores[i][doc_ids.index(d)]) for d in docs} for i, (q, docs) in enumerate(run.items())
    }
    theirs = evaluator.evaluate(run_scores)
    for name, key in PYTREC.items():
        assert ours[name] == pytest.approx(np.mean([m[key] for m in theirs.values()]), abs=1e-4), name
    top10 = {q: {d: s for d, s in docs.items() if d in run[q][:10]} for q, docs in run_scores.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    assert ours["mrr@10"] == pytest.approx(np.mean([m["recip_rank"] for m in mrr.values()]), abs=1e-4)
    assert 0 < ours["ndcg@10"] < 1 and len(set(MEASURES)) == 6


def test_exact_search_ranks_ties_by_descending_id():
    corpus = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    rankings = rank_by_vectors(np.array([[1.0, 0.0]]), corpus, ["q"], ["a", "b", "c"])
    assert rankings == {"q": ["b", "a", "c"]}


TASK = RetrievalTask(
    "planted", "test",
    queries={"q1": "guitar music", "q2": "stock market", "q3": "dog park"},
    corpus={"d1": "a man plays guitar music", "d2": "the stock market fell", "d3": "a dog runs in the park",
            "d4": "a cat sits on the mat"},
    qrels={"q1": {"d1": 2}, "q2": {"d2": 1}, "q3": {"d3": 1, "d4": 0}},
)  # fmt: skip


def test_a_task_written_in_the_beir_layout_reads_back(tmp_path):
    folder = write_beir(tmp_path / "planted", TASK)
    assert sorted(p.name for p in folder.iterdir()) == [
        ".embedlab.json",
        "corpus.jsonl",
        "qrels",
        "queries.jsonl",
    ]
    assert load_beir(folder) == RetrievalTask("planted", "test", TASK.queries, TASK.corpus, TASK.qrels)


QRELS, CORPUS = Path("qrels") / "test.tsv", Path("corpus.jsonl")
BAD = {  # what to do to a good folder → what the one line names
    "no corpus": (lambda f: (f / CORPUS).unlink(), "corpus.jsonl: missing"),
    "no qrels for the split": (lambda f: (f / QRELS).rename(f / "qrels" / "dev.tsv"), "test.tsv: missing"),
    "unknown document": (lambda f: _append(f / QRELS, "q1\td9\t1"), "test.tsv, line 6: document 'd9'"),
    "unknown query": (lambda f: _append(f / QRELS, "q7\td1\t1"), "test.tsv, line 6: query 'q7'"),
    "duplicate id": (
        lambda f: _append(f / CORPUS, '{"_id": "d2"}'),
        "corpus.jsonl, line 5: duplicate _id 'd2'",
    ),
    "empty corpus": (lambda f: (f / CORPUS).write_text(""), "the corpus is empty"),
    "no query judged": (lambda f: (f / QRELS).write_text("query-id\tcorpus-id\tscore\n"), "judges no query"),
    "a score that is no number": (lambda f: _append(f / QRELS, "q1\td2\thigh"), "line 6: expected"),
}


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_beir_folder_is_one_line_naming_file_and_line(case, tmp_path):
    import shutil

    folder = tmp_path / "task"
    shutil.copytree(write_beir(tmp_path / "good", TASK), folder)
    damage, message = BAD[case]
    damage(folder)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        load_beir(folder)
    result = CliRunner().invoke(
        app, ["eval", "bm25", "--tasks", f"retrieval:{folder}", "--out", str(tmp_path / "r")]
    )
    assert (
        result.exit_code == 2 and message.split(":")[0] in result.stderr and "Traceback" not in result.output
    )


def test_eval_scores_a_beir_folder_with_a_model_and_with_bm25(tmp_path, tiny_model_dir):
    folder = write_beir(tmp_path / "planted", TASK)
    result = CliRunner().invoke(
        app, ["eval", "bm25", "--tasks", f"retrieval:{folder}", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    records = {r["metric"]: r["value"] for r in json.loads((tmp_path / "bm25.json").read_text())["records"]}
    assert set(records) == set(MEASURES) and records["ndcg@10"] == pytest.approx(100.0)  # each query's words
    args = [
        "eval",
        str(tiny_model_dir),
        "--tasks",
        f"retrieval:{folder}:test",
        "--out",
        str(tmp_path / "m"),
    ]
    model = CliRunner().invoke(app, args)
    assert model.exit_code == 0, model.output
    (written,) = (tmp_path / "m").glob("*.json")
    assert {r["task"] for r in json.loads(written.read_text())["records"]} == {"retrieval:planted"}


class WordOverlapReranker:
    """Scores (query, document) by the words they share: a reranker whose right answer is known."""

    calls = 0

    def predict(self, pairs, **_):
        self.calls += len(pairs)
        return [len(set(q.split()) & set(d.split())) for q, d in pairs]


def test_reranking_reorders_only_the_first_depth_and_reuses_scores():
    from embedlab.evaluate.rerank import rerank_rankings

    worst_first = {q: sorted(TASK.corpus, key=lambda d: d in TASK.qrels[q]) for q in TASK.queries}
    reranker, cache = WordOverlapReranker(), {}
    reranked = rerank_rankings(TASK, worst_first, reranker, depth=4, cache=cache)
    assert all(reranked[q][0] == next(iter(TASK.qrels[q])) for q in TASK.queries)
    assert mean_measures(reranked, TASK.qrels)["ndcg@10"] == pytest.approx(1.0)
    shallow = rerank_rankings(TASK, worst_first, reranker, depth=2, cache=cache)
    assert all(shallow[q][2:] == worst_first[q][2:] for q in TASK.queries)  # below the depth: untouched
    assert reranker.calls == 12  # the second call read every pair from the cache


def test_eval_rerank_adds_the_reranked_figures_and_refuses_a_bi_encoder(
    tmp_path, tiny_model_dir, tiny_reranker_dir
):
    folder = write_beir(tmp_path / "planted", TASK)
    out = tmp_path / "r"
    args = [
        "eval",
        "bm25",
        "--tasks",
        f"retrieval:{folder}",
        "--rerank",
        str(tiny_reranker_dir),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = json.loads((out / "bm25.json").read_text())["records"]
    tasks = {r["task"] for r in records}
    assert tasks == {"retrieval:planted", "retrieval:planted+rerank"}
    recall = {r["task"]: r["value"] for r in records if r["metric"] == "recall@100"}
    assert recall["retrieval:planted+rerank"] == recall["retrieval:planted"]  # the same documents, reordered
    wrong = CliRunner().invoke(
        app, [*args[:4], "--rerank", str(tiny_model_dir), "--out", str(tmp_path / "w")]
    )
    assert wrong.exit_code == 2 and "is an embedding model" in wrong.stderr
    no_task = CliRunner().invoke(
        app, ["eval", str(tiny_model_dir), "--tasks", "stsb", "--rerank", str(tiny_reranker_dir)]
    )
    assert no_task.exit_code == 2 and "add a retrieval task" in no_task.stderr


def test_hybrid_fuses_by_reciprocal_rank_and_the_corpus_vectors_are_cached(tmp_path, monkeypatch):
    from embedlab.evaluate import ir_metrics
    from embedlab.evaluate.ir_metrics import cached_vectors, evaluate_retrieval_task, fused
    from tests.corpora import BagOfWordsEncoder

    assert fused({"q": ["a", "b"]}, {"q": ["b", "c"]}) == {"q": ["b", "a", "c"]}
    monkeypatch.setenv("EMBEDLAB_CACHE_DIR", str(tmp_path / "cache"))
    encoder, calls = BagOfWordsEncoder(), []
    encoder.identity = {**encoder.identity, "fingerprint": "f" * 64}  # a model on disk has one

    def encode():
        calls.append(1)
        return encoder.encode(list(TASK.corpus.values()))

    first = cached_vectors(encoder, TASK.corpus, encode)
    np.testing.assert_array_equal(cached_vectors(encoder, TASK.corpus, encode), first)
    assert len(calls) == 1  # the second call read the cache
    cached_vectors(encoder, {**TASK.corpus, "d5": "another text"}, encode)
    assert len(calls) == 2  # another corpus, another entry
    monkeypatch.setattr("embedlab.runtime.encoder.load_encoder", lambda model, backend="torch": encoder)
    records = evaluate_retrieval_task("bag", TASK, mode="hybrid", show_progress=False)
    assert {r.task for r in records} == {"retrieval:planted+hybrid"} and ir_metrics.MEASURES


def test_data_retrieval_writes_the_arxiv_tasks_in_the_beir_layout(tmp_path, arxiv_splits):
    args = ["data", "retrieval", "--out", str(tmp_path / "tasks"), "--arxiv-dir", str(arxiv_splits)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    own = load_beir(tmp_path / "tasks" / "arxiv-title-abstract")
    graded = load_beir(tmp_path / "tasks" / "arxiv-title-category")
    assert own.corpus == graded.corpus and set(own.queries) == set(graded.queries)
    query = next(iter(own.qrels))
    (mine,) = own.qrels[query]
    assert graded.qrels[query][mine] == 2 and set(graded.qrels[query].values()) <= {1, 2}
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.stderr


class ShortReader(BagOfWordsEncoder):
    """Reads only its first 4 words, as a model reads its first max_seq_length tokens (2 are special)."""

    max_seq_length = 6

    def encode(self, texts, batch_size: int = 32):
        return super().encode([" ".join(t.split()[:4]) for t in texts], batch_size)


def test_long_documents_are_truncated_or_scored_by_their_best_chunk(monkeypatch):
    from embedlab.evaluate.ir_metrics import evaluate_retrieval_task
    from embedlab.evaluate.records import lookup

    # d1 names the guitar only after its first four words: truncated, it cannot be found; chunked, it can
    task = RetrievalTask(
        "long", "test",
        queries={"q1": "guitar music"},
        corpus={"d1": "words about nothing much then guitar music playing", "d2": "stock market fell today",
                "d3": "music critics wrote nothing"},
        qrels={"q1": {"d1": 1}},
    )  # fmt: skip
    monkeypatch.setattr("embedlab.runtime.encoder.load_encoder", lambda model, backend="torch": ShortReader())
    truncated = evaluate_retrieval_task("short", task, show_progress=False)
    chunked = evaluate_retrieval_task("short", task, long_documents="chunk", show_progress=False)
    assert lookup(truncated, "retrieval:long", "mrr@10") < 100.0
    assert lookup(chunked, "retrieval:long+chunks", "mrr@10") == 100.0
    for records, task_name in ((truncated, "retrieval:long"), (chunked, "retrieval:long+chunks")):
        (record,) = [r for r in records if r.metric == "long_documents"]
        assert (record.task, record.n) == (task_name, 1) and record.value == pytest.approx(100 / 3)
    from embedlab.evaluate.long_documents import long_documents_notes

    assert (
        long_documents_notes(truncated)[0][1] == "1 documents (33.3%) longer than the model reads: truncated"
    )
    assert long_documents_notes(chunked)[0][1].endswith("scored by their best chunk")
    with pytest.raises(EmbedlabError, match="long_documents='split'"):
        evaluate_retrieval_task("short", task, long_documents="split", show_progress=False)


def test_best_chunk_ranking_takes_each_documents_maximum():
    from embedlab.evaluate.ir_metrics import rank_by_vectors

    query = np.array([[1.0, 0.0]])
    chunks = np.array([[0.0, 1.0], [0.9, 0.1], [0.6, 0.4], [0.7, 0.3]])  # doc a: chunks 0-1, b: 2-3
    ranking = rank_by_vectors(query, chunks, ["q"], ["a", "b"], starts=np.array([0, 2]))
    assert ranking == {"q": ["a", "b"]}


def test_faiss_search_beyond_a_size_ranks_as_the_exact_loop(monkeypatch):
    from embedlab.evaluate import ir_metrics

    rng = np.random.default_rng(0)
    queries, corpus = rng.normal(size=(30, 16)), rng.normal(size=(400, 16))
    corpus[7] = corpus[3]  # a tie: both orders must put the larger id first
    query_ids, corpus_ids = [f"q{i}" for i in range(30)], [f"d{i:03d}" for i in range(400)]
    exact = ir_metrics.rank_by_vectors(queries, corpus, query_ids, corpus_ids)
    monkeypatch.setattr(ir_metrics, "FAISS_FROM", 100)
    assert ir_metrics.rank_by_vectors(queries, corpus, query_ids, corpus_ids) == exact


def test_the_vector_cache_tells_apart_the_lengths_a_model_reads(tmp_path, monkeypatch):
    # one model's weights at 128 tokens and at 256 give other vectors: a cache shared by both gave the
    # 128-token figures to a 256-token evaluation (2026-12-04)
    from embedlab.evaluate.ir_metrics import cached_vectors

    monkeypatch.setenv("EMBEDLAB_CACHE_DIR", str(tmp_path / "cache"))
    encoder, calls = BagOfWordsEncoder(), []
    encoder.identity = {**encoder.identity, "fingerprint": "f" * 64}

    def encode():
        calls.append(encoder.max_seq_length)
        return encoder.encode(list(TASK.corpus.values()))

    cached_vectors(encoder, TASK.corpus, encode)
    encoder.max_seq_length = 128
    cached_vectors(encoder, TASK.corpus, encode)
    cached_vectors(encoder, TASK.corpus, encode)
    assert calls == [512, 128]
