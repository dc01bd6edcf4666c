"""Compressed vectors: binary and int8 codes equal to sentence-transformers' `quantize_embeddings`, their
rescored search finding the exact answers, the memory-mapped rescoring files checked against the manifest,
Matryoshka truncation, and one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.codes import from_int8, int8_ranges, to_int8, ubinary
from embedlab.errors import EmbedlabError
from embedlab.index import DocumentIndex
from embedlab.index.store import add_to_index, create_index
from embedlab.io import l2_normalise


def planted(count: int = 3000, dim: int = 384, queries: int = 50, seed: int = 0):
    """Unit vectors, and queries that are noisy copies of the first `queries` of them (cosine ~0.93)."""
    rng = np.random.default_rng(seed)
    vectors = l2_normalise(rng.standard_normal((count, dim)).astype(np.float32))
    asked = l2_normalise(vectors[:queries] + 0.02 * rng.standard_normal((queries, dim)).astype(np.float32))
    return vectors, asked


def exact_top(vectors, queries, k):
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


def test_codes_equal_sentence_transformers_quantize_embeddings():
    from sentence_transformers.quantization import quantize_embeddings

    vectors, _ = planted(500)
    assert np.array_equal(ubinary(vectors), quantize_embeddings(vectors, "ubinary"))
    ranges = int8_ranges(vectors)
    assert np.array_equal(to_int8(vectors, ranges), quantize_embeddings(vectors, "int8", ranges=ranges))
    step = (ranges[1] - ranges[0]) / 255
    assert np.all(np.abs(from_int8(to_int8(vectors, ranges), ranges) - vectors) <= step / 2 + 1e-6)


@pytest.mark.parametrize("precision", ["binary", "int8"])
def test_rescored_search_finds_the_exact_top_one(precision):
    vectors, queries = planted()
    docs = [{"id": str(i), "text": f"t{i}"} for i in range(len(vectors))]
    index = DocumentIndex.build(vectors, docs, model="m", vectors_precision=precision)
    found = [[int(h.document["id"]) for h in hits] for hits in index.search(queries, k=10)]
    truth = exact_top(vectors, queries, 10)
    assert truth[:, 0].tolist() == list(range(50))  # the planted answers are the exact ones
    assert [row[0] for row in found] == truth[:, 0].tolist()
    scores = [hits[0].score for hits in index.search(queries, k=1)]  # rescored: close to the exact cosines
    assert scores == pytest.approx(np.sum(queries * vectors[:50], axis=1).tolist(), abs=0.02)
    # the rescore multiplier is tuned to the target recall on the documents' own vectors: random vectors
    # have no near neighbours beyond the planted one, so sign bits rank them badly and binary rescores more
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95, recall
    manifest = index.manifest
    assert manifest["vectors"] == precision and manifest["tuned_recall_at_10"] >= manifest["target_recall"]
    assert manifest["rescore_multiplier"] == 4 if precision == "int8" else manifest["rescore_multiplier"] > 4


def test_a_saved_binary_index_keeps_codes_in_memory_and_maps_the_int8_vectors(tmp_path):
    vectors, queries = planted()
    docs = [{"id": str(i), "text": f"t{i}"} for i in range(len(vectors))]
    built = create_index(tmp_path / "idx", vectors, docs, model="m", vectors_precision="binary")
    loaded = DocumentIndex.load(tmp_path / "idx")
    assert isinstance(loaded.index.vectors.codes, np.memmap)  # rescoring reads the disk, not RAM
    ids = lambda index: [[h.document["id"] for h in hits] for hits in index.search(queries, k=5)]  # noqa: E731
    assert ids(loaded) == ids(built)
    extra = l2_normalise(np.ones((1, 384), dtype=np.float32))
    add_to_index(tmp_path / "idx", extra, [{"id": "new", "text": "new"}], model="m")
    again = DocumentIndex.load(tmp_path / "idx")
    assert again.search(extra, k=1)[0][0].document["id"] == "new"
    data = tmp_path / "idx" / again.manifest["data"]
    codes = np.load(data / "vectors.i8.npy")
    np.save(data / "vectors.i8.npy", codes[:-10])  # a rescoring file cut short
    with pytest.raises(EmbedlabError, match="rebuild the index"):
        DocumentIndex.load(tmp_path / "idx")
    (data / "vectors.i8.npy").unlink()
    with pytest.raises(EmbedlabError, match=r"vectors\.i8\.npy: unreadable"):
        DocumentIndex.load(tmp_path / "idx")


def test_a_matryoshka_index_cuts_queries_through_fit_width_and_refuses_raw_full_width_ones():
    vectors, queries = planted()
    docs = [{"id": str(i), "text": f"t{i}"} for i in range(len(vectors))]
    index = DocumentIndex.build(vectors, docs, model="m", dims=128)
    assert index.manifest["dim"] == 128 and index.manifest["truncated_from"] == 384
    with pytest.raises(EmbedlabError, match=r"keeps the first 128 of 384: index\.fit_width"):
        index.search(queries, k=1)
    cut = index.fit_width(queries)
    assert cut.shape == (50, 128) and np.allclose(np.linalg.norm(cut, axis=1), 1)
    truth = exact_top(l2_normalise(vectors[:, :128]), cut, 1)[:, 0]
    assert [int(h[0].document["id"]) for h in index.search(cut, k=1)] == truth.tolist()
    index.check_model(None, 384)  # the full-width model's vectors belong, cut
    with pytest.raises(EmbedlabError, match="dims=400"):
        DocumentIndex.build(vectors, docs, model="m", dims=400)


def test_cli_build_with_compressed_vectors_and_its_refusals(tiny_model_dir, tmp_path):
    docs = tmp_path / "docs.jsonl"
    texts = ["a man plays guitar", "the stock market fell today", "a dog runs in the park", "a cat sits"]
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    runner = CliRunner()
    build = ["index", "build", str(tiny_model_dir), str(docs)]
    made = runner.invoke(app, [*build, "--out", str(tmp_path / "b"), "--vectors", "binary", "--dims", "16"])
    assert made.exit_code == 0, made.output
    found = runner.invoke(
        app, ["index", "search", str(tmp_path / "b"), "dog park", "--mode", "dense", "-k", "1"]
    )
    assert found.exit_code == 0 and "d2" in found.output, found.output
    for extra, phrase in (
        (["--dims", "40"], "--dims 40: this model's vectors are 32-d"),
        (["--vectors", "binary", "--dims", "12"], "multiple of 8"),
        (["--vectors", "int8", "--kind", "hnsw"], "--kind flat"),
    ):
        refused = runner.invoke(app, [*build, "--out", str(tmp_path / "x"), *extra])
        assert refused.exit_code == 2 and phrase in refused.stderr, (extra, refused.output)
        # one line of ours (transformers' own "Loading weights" bar may precede it: issue 38's noise)
        assert [line for line in refused.stderr.splitlines() if "error" in line] == [
            refused.stderr.splitlines()[-1]
        ]
        assert not (tmp_path / "x" / "manifest.json").exists()
