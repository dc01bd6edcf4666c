"""Milvus Lite as the vector store of an index: round trip, equal to FAISS flat, growth, /search, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import ConfigError, EmbedlabError
from embedlab.index import DocumentIndex, add_to_index, create_index, milvus_settings
from tests.corpora import BagOfWordsEncoder, topic_texts

pytest.importorskip("pymilvus")
pytestmark = pytest.mark.slow  # each Milvus Lite start takes about a second


@pytest.fixture
def corpus():
    texts, topics = topic_texts()
    documents = [
        {"id": f"t{i}", "text": t, "topic": topic}
        for i, (t, topic) in enumerate(zip(texts, topics, strict=True))
    ]
    return documents, BagOfWordsEncoder()


def test_milvus_lite_round_trip_searches_like_faiss_flat(tmp_path, corpus):
    documents, encoder = corpus
    rng = np.random.default_rng(0)  # continuous scores: no ties whose order could differ
    vectors, queries = rng.standard_normal((len(documents), 64)), rng.standard_normal((5, 64))
    faiss_index = create_index(tmp_path / "faiss", vectors, documents, model=encoder.identity)
    settings = milvus_settings(tmp_path / "milvus", None, None)
    assert settings == {"uri": str(tmp_path / "milvus" / "milvus.db"), "collection": "embedlab_milvus"}
    create_index(tmp_path / "milvus", vectors, documents, model=encoder.identity, milvus=settings)

    reopened = DocumentIndex.load(tmp_path / "milvus")
    assert reopened.manifest["store"] == "milvus" and reopened.index.ntotal == len(documents)
    for a, b in zip(faiss_index.search(queries, 10), reopened.search(queries, 10), strict=True):
        assert [h.document["id"] for h in a] == [h.document["id"] for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)
    np.testing.assert_allclose(reopened.vectors_of([3]), faiss_index.vectors_of([3]), atol=1e-6)


def test_adding_to_a_milvus_index_appends_and_survives_a_crashed_writer(tmp_path, corpus):
    documents, encoder = corpus
    first, second = documents[:20], documents[20:30]
    vectors = encoder.encode([d["text"] for d in documents])
    settings = milvus_settings(tmp_path / "idx", None, None)
    create_index(tmp_path / "idx", vectors[:20], first, model=encoder.identity, milvus=settings)

    crashed = DocumentIndex.load(
        tmp_path / "idx"
    )  # a writer that stored vectors, then died before committing
    crashed.add(vectors[20:25], documents[40:45])
    crashed.index.commit(crashed.committed)
    crashed.index.close()
    assert DocumentIndex.load(tmp_path / "idx").search(vectors[40:41], 1)[0][0].document["id"] != "t40"

    add_to_index(tmp_path / "idx", vectors[20:30], second, model=encoder.identity)
    grown = DocumentIndex.load(tmp_path / "idx")
    assert grown.index.ntotal == 30 and len(grown.documents) == 30
    (hits,) = grown.search(vectors[25:26], 1)
    assert hits[0].document["id"] == "t25" and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_rebuilds_replace_only_their_own_collection(tmp_path, corpus):
    documents, encoder = corpus
    vectors = encoder.encode([d["text"] for d in documents])
    shared = str(tmp_path / "shared.db")
    create_index(
        tmp_path / "a",
        vectors,
        documents,
        model=encoder.identity,
        milvus={"uri": shared, "collection": "docs"},
    )
    create_index(
        tmp_path / "a",
        vectors[:5],
        documents[:5],
        model=encoder.identity,
        milvus={"uri": shared, "collection": "docs"},
        force=True,
    )
    assert DocumentIndex.load(tmp_path / "a").index.ntotal == 5
    with pytest.raises(EmbedlabError, match="collection 'docs' already exists"):
        create_index(
            tmp_path / "b",
            vectors,
            documents,
            model=encoder.identity,
            milvus={"uri": shared, "collection": "docs"},
        )
    assert DocumentIndex.load(tmp_path / "a").index.ntotal == 5  # the other index's vectors untouched


def test_an_unreachable_milvus_server_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from embedlab.cli import app

    with pytest.raises(ConfigError, match="no Milvus answers"):
        milvus_settings(tmp_path / "x", "http://127.0.0.1:9", None)
    result = CliRunner().invoke(
        app,
        [
            "index",
            "build",
            "m",
            "d.jsonl",
            "--out",
            str(tmp_path / "x"),
            "--store",
            "milvus",
            "--uri",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2 and "--uri http://127.0.0.1:9: no Milvus answers there" in result.stderr
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_the_service_searches_a_milvus_index(tmp_path):
    import httpx

    from embedlab.serve import ServeSettings, create_app
    from tests.serve.test_routes import LiveServer
    from tests.serve.test_search_routes import DOCS

    encoder = BagOfWordsEncoder()
    vectors = encoder.encode([d["text"] for d in DOCS])
    settings = milvus_settings(tmp_path / "idx", None, None)
    create_index(tmp_path / "idx", vectors, DOCS, model=encoder.identity, bm25=True, milvus=settings)
    index = DocumentIndex.load(tmp_path / "idx")
    with LiveServer(create_app(ServeSettings(model="bag-of-words"), encoder=encoder, index=index)) as live:
        dense = httpx.post(
            f"{live.url}/search", json={"query": "rocket orbit", "k": 1, "mode": "dense"}
        ).json()
        assert [h["id"] for h in dense["hits"]] == ["a"]
        hybrid = httpx.post(
            f"{live.url}/search", json={"query": "rocket", "where": {"topic": "cooking", "year": 2022}}
        ).json()
        assert [h["id"] for h in hybrid["hits"]] == ["e"]
        like = httpx.post(f"{live.url}/search", json={"like": "d", "k": 2}).json()
        assert like["hits"][0]["id"] == "e"


def test_a_copied_milvus_index_is_independent_and_a_moved_one_works(tmp_path, corpus):
    import shutil

    documents, encoder = corpus
    vectors = encoder.encode([d["text"] for d in documents])
    original = tmp_path / "original"
    settings = milvus_settings(original, None, None)
    create_index(original, vectors[:20], documents[:20], model=encoder.identity, milvus=settings)
    manifest = (original / "manifest.json").read_text()
    assert str(tmp_path) not in manifest and '"uri": "milvus.db"' in manifest  # relative, not absolute

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    add_to_index(copy, vectors[20:30], documents[20:30], model=encoder.identity)
    assert DocumentIndex.load(copy).index.ntotal == 30
    assert DocumentIndex.load(original).index.ntotal == 20  # the copy's additions stayed in the copy

    # Milvus Lite keeps a database it opened locked for the life of the process: move a copy nobody opened
    # (a user moves an index no server has open)
    shutil.copytree(original, tmp_path / "to-move")
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(tmp_path / "to-move", moved)
    hits = DocumentIndex.load(moved).search(vectors[:1], 1)[0]
    assert hits[0].document["id"] == documents[0]["id"]
