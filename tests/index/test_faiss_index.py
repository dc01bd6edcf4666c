"""The FAISS document index: every kind finds documents, tuned effort, save/load, crash safety."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from embedlab.errors import EmbedlabError
from embedlab.index import DocumentIndex, PQSettings
from embedlab.index.faiss_build import _new_faiss_index, build_tuned, tune_search
from embedlab.io import l2_normalise as _normalised


class HashEncoder:
    """A deterministic stand-in encoder: each text maps to a fixed random vector."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.max_seq_length = 128

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little") for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(self.dim) for s in seeds]).astype(
            np.float32
        )


def synthetic_docs(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"doc{i}", "text": f"document number {i}", "n": i} for i in range(start, start + n)]


def build(encoder, docs, **options) -> DocumentIndex:
    vectors = encoder.encode([d["text"] for d in docs])
    return DocumentIndex.build(vectors, docs, model={"name": "hash", "path": "hash"}, **options)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "ivfpq"])
def test_every_kind_finds_each_document_by_its_own_text(kind):
    encoder = HashEncoder()
    docs = synthetic_docs(400)
    index = build(encoder, docs, kind=kind)
    queries = [d["text"] for d in docs[:60]]
    top = [hits[0].document["id"] for hits in index.search(encoder.encode(queries), k=5)]
    found = sum(t == d["id"] for t, d in zip(top, docs[:60], strict=True))
    assert found >= 57  # exact for flat; approximate kinds may miss a few
    if kind == "flat":
        assert found == 60


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_search_effort_is_tuned_to_the_recall_target(kind):
    import faiss

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 64)).astype(np.float32)
    vectors = _normalised(centres[rng.integers(0, 40, 6000)] + 3.0 * rng.standard_normal((6000, 64)))
    index, _ = _new_faiss_index(kind, 64, vectors[:5800])
    index.add(vectors[:5800])
    held_out = vectors[5800:]
    loose = tune_search(index, kind, vectors[:5800], held_out, target_recall=0.5)
    strict = tune_search(index, kind, vectors[:5800], held_out, target_recall=0.98)
    effort = "nprobe" if kind == "ivf" else "ef_search"
    assert loose["tuned_recall_at_10"] >= 0.5 and strict["tuned_recall_at_10"] >= 0.98
    assert strict[effort] > loose[effort]
    # the tuned effort holds for other new queries from the same distribution, measured independently here
    queries = _normalised(centres[rng.integers(0, 40, 300)] + 3.0 * rng.standard_normal((300, 64)))
    truth = faiss.knn(queries, vectors[:5800], 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    found = index.search(queries, 10)[1]  # the index is left at the strict setting
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95


@pytest.mark.parametrize("pq", [PQSettings(), PQSettings(opq=True), PQSettings(code_bytes=16)])
def test_ivfpq_reaches_the_target_by_reranking_with_full_vectors_read_from_disk(tmp_path, pq):
    import faiss

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 12000)] + 1.0 * rng.standard_normal((12000, 64))
    docs = synthetic_docs(12000)
    index = DocumentIndex.build(vectors, docs, model={"name": "x"}, kind="ivfpq", target_recall=0.95, pq=pq)
    assert index.manifest["pq_bytes"] == (pq.code_bytes or 8) and index.manifest["opq"] is pq.opq
    assert index.manifest["tuned_recall_at_10"] >= 0.95
    index.save(tmp_path / "idx")
    loaded = DocumentIndex.load(tmp_path / "idx")
    assert isinstance(loaded.index.vectors, np.memmap)  # re-ranking reads candidates' rows from the file
    assert loaded.index.depth == index.manifest["rerank_depth"]
    # the tuned effort holds for other new queries, measured here against exact search
    queries = _normalised(centres[rng.integers(0, 40, 200)] + 1.0 * rng.standard_normal((200, 64)))
    order = [int(d["id"][3:]) for d in loaded.documents]
    truth = faiss.knn(queries, _normalised(vectors)[order], 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    found = loaded.index.search(queries, 10)[1]
    assert np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]) >= 0.93
    hits = [h for row in loaded.search(queries[:20], 5) for h in row]
    scored = np.array([h.score for h in hits])
    rows = np.array([h.document["n"] for h in hits])
    exact = np.einsum("qd,qkd->qk", queries[:20], _normalised(vectors)[rows.reshape(20, 5)]).ravel()
    np.testing.assert_allclose(scored, exact, atol=2e-3)  # re-ranked scores are exact (float16 rows)

    more = synthetic_docs(5, start=12000)
    loaded.add(rng.standard_normal((5, 64)).astype(np.float32), more)
    loaded.save(tmp_path / "idx")
    again = DocumentIndex.load(tmp_path / "idx")
    assert again.index.ntotal == len(again.index.vectors) == 12005


def test_build_tuned_keeps_rows_and_their_order_consistent():
    rng = np.random.default_rng(1)
    vectors = _normalised(rng.standard_normal((2000, 16)))
    index, parameters, order = build_tuned("hnsw", vectors, target_recall=0.9)
    assert sorted(order.tolist()) == list(range(2000)) and index.ntotal == 2000
    assert parameters["tuned_recall_at_10"] >= 0.9
    _, found = index.search(vectors[:50], 1)
    assert [int(order[f[0]]) for f in found] == list(range(50))  # row i of the index is vectors[order[i]]


def test_tuned_effort_is_saved_and_restored(tmp_path):
    index = build(HashEncoder(), synthetic_docs(3000), kind="ivf", target_recall=0.9)
    assert index.manifest["tuned_recall_at_10"] >= 0.9 and index.manifest["nprobe"] >= 1
    index.save(tmp_path / "idx")
    assert DocumentIndex.load(tmp_path / "idx").index.nprobe == index.manifest["nprobe"]


def test_save_load_round_trip_and_add(tmp_path):
    encoder = HashEncoder()
    index = build(encoder, synthetic_docs(50), kind="flat")
    index.save(tmp_path / "idx")
    loaded = DocumentIndex.load(tmp_path / "idx")
    assert loaded.manifest["count"] == 50 and loaded.manifest["dim"] == 16 and loaded.manifest["data"] == "v1"
    (hits,) = loaded.search(encoder.encode(["document number 7"]), k=3)
    assert hits[0].document == {"id": "doc7", "text": "document number 7", "n": 7}
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)

    more = synthetic_docs(10, start=50)
    loaded.add(encoder.encode([d["text"] for d in more]), more)
    loaded.save(tmp_path / "idx")
    again = DocumentIndex.load(tmp_path / "idx")
    assert again.manifest["count"] == 60 and again.manifest["data"] == "v2"
    assert again.manifest["previous"] == "v1"  # kept for readers that loaded v1 a moment ago
    third = synthetic_docs(1, start=60)
    again.add(encoder.encode([third[0]["text"]]), third)
    again.save(tmp_path / "idx")
    names = sorted(p.name for p in (tmp_path / "idx").iterdir() if not p.name.startswith("."))
    assert names == ["manifest.json", "v2", "v3"]  # v1 removed by name, as recorded
    with pytest.raises(EmbedlabError, match="already in the index"):
        again.add(encoder.encode(["x"]), synthetic_docs(1, start=3))


def test_crash_mid_save_leaves_the_previous_index_loadable(tmp_path, monkeypatch):
    encoder = HashEncoder()
    index = build(encoder, synthetic_docs(20))
    index.save(tmp_path / "idx")
    more = synthetic_docs(5, start=20)
    index.add(encoder.encode([d["text"] for d in more]), more)

    real_replace = Path.replace

    def crash_on_manifest(self, target):
        if Path(target).name == "manifest.json":
            raise OSError("power cut")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", crash_on_manifest)
    with pytest.raises(OSError, match="power cut"):
        index.save(tmp_path / "idx")
    monkeypatch.undo()
    survivor = DocumentIndex.load(tmp_path / "idx")
    assert survivor.manifest["count"] == 20 and len(survivor.documents) == 20
    index.save(tmp_path / "idx")  # the next save commits a fresh version
    assert DocumentIndex.load(tmp_path / "idx").manifest["count"] == 25


def test_searching_with_vectors_of_another_dimension_is_a_clear_error():
    index = build(HashEncoder(16), synthetic_docs(10))
    with pytest.raises(EmbedlabError, match="gives 8-dimensional vectors but the index"):
        index.check_model(None, 8)
    with pytest.raises(EmbedlabError, match="for a 16-d index"):
        index.search(HashEncoder(8).encode(["query"]))


def test_ivfpq_code_bytes_must_divide_the_width():
    vectors = np.random.default_rng(0).standard_normal((2000, 64)).astype(np.float32)
    docs = synthetic_docs(2000)
    expected = r"pq=PQSettings\(code_bytes=7\): it must divide the vectors' width 64, e\.g\. 2, 4, 8"
    with pytest.raises(EmbedlabError, match=expected):
        DocumentIndex.build(vectors, docs, model={"name": "x"}, kind="ivfpq", pq=PQSettings(7))


def test_cli_pq_options_belong_to_ivfpq(tmp_path):
    from typer.testing import CliRunner

    from embedlab.cli import app

    out = tmp_path / "x"
    result = CliRunner().invoke(
        app, ["index", "build", "m", "d.jsonl", "--out", str(out), "--pq-bytes", "96"]
    )
    assert result.exit_code == 2 and "--opq and --pq-bytes are for --kind ivfpq" in result.stderr
    assert not out.exists()


def test_thin_code_book_training_is_one_embedlab_warning_not_faiss_noise(capfd):
    from embedlab.errors import EmbedlabWarning

    vectors = np.random.default_rng(0).standard_normal((600, 64)).astype(np.float32)
    with pytest.warns(
        EmbedlabWarning, match="kind ivfpq: 600 vectors train its 256-centroid code books thinly"
    ):
        DocumentIndex.build(vectors, synthetic_docs(600), model={"name": "x"}, kind="ivfpq")
    assert "WARNING clustering" not in capfd.readouterr().err  # FAISS's own line stays quiet
