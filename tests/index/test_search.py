"""Search: hybrid fusion, filters, per-document results from chunks, more-like-this, BM25 kept up to date."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.errors import EmbedlabError
from embedlab.index import DocumentIndex
from embedlab.index.search import fuse, more_like_this, parse_where, search
from embedlab.index.store import add_to_index, create_index
from tests.corpora import BagOfWordsEncoder

DOCS = [
    {"id": "a", "text": "rocket launch orbit satellite", "topic": "space"},
    {"id": "b", "text": "telescope galaxy comet star", "topic": "space"},
    {"id": "c", "text": "bread butter flour oven", "topic": "cooking"},
    {"id": "d", "text": "garlic onion sauce simmer", "topic": "cooking"},
    {"id": "e", "text": "rocket salad with onion and garlic", "topic": "cooking"},
]


def build(tmp_path, docs=DOCS, **options):
    encoder = BagOfWordsEncoder()
    model = {"name": "bag", "path": "bag"}
    create_index(
        tmp_path / "idx", encoder.encode([d["text"] for d in docs]), docs, model=model, bm25=True, **options
    )
    return DocumentIndex.load(tmp_path / "idx"), encoder


def test_fusion_ranks_a_document_found_by_both_sides_first():
    fused = fuse([[3, 1, 2], [1, 4]])
    assert fused[0][0] == 1 and {item for item, _ in fused} == {1, 2, 3, 4}


def test_modes_and_filters(tmp_path):
    index, encoder = build(tmp_path)
    assert [h.id for h in search(index, encoder, "rocket orbit", k=1, mode="dense")] == ["a"]
    assert {h.id for h in search(index, encoder, "rocket", k=5, mode="bm25")} == {"a", "e"}  # shares the word
    hybrid = search(index, encoder, "rocket orbit", k=3, mode="hybrid")
    assert hybrid[0].id == "a"
    cooking = search(index, encoder, "rocket", k=3, mode="hybrid", where=["topic=cooking"])
    assert cooking[0].id == "e" and all(h.metadata["topic"] == "cooking" for h in cooking)
    assert search(index, encoder, "rocket", k=3, where={"topic": "gardening"}) == []
    with pytest.raises(EmbedlabError, match="field=value"):
        parse_where(["topic"])


def test_long_documents_come_back_once_with_their_best_chunk(tmp_path):
    from embedlab.data.chunks import chunk_documents
    from tests.data.test_chunks import word_offsets

    long_text = "bread butter flour oven " * 5 + "rocket launch orbit satellite " + "garlic onion sauce " * 5
    rows = chunk_documents([{"id": "long", "text": long_text}, *DOCS[1:]], word_offsets, window=6, overlap=2)
    index, encoder = build(tmp_path, rows)
    hits = search(index, encoder, "rocket launch orbit satellite", k=3, mode="hybrid")
    assert hits[0].id == "long" and [h.id for h in hits].count("long") == 1
    assert "rocket" in hits[0].highlight and hits[0].highlight == long_text[hits[0].start : hits[0].end]


def test_more_like_this_excludes_the_document_itself(tmp_path):
    index, _ = build(tmp_path)
    similar = more_like_this(index, "d", k=2)
    assert similar[0].id == "e" and "d" not in [h.id for h in similar]
    with pytest.raises(EmbedlabError, match="no document with this id"):
        more_like_this(index, "zzz")


def test_added_documents_are_found_by_bm25_too(tmp_path):
    _, encoder = build(tmp_path)
    more = [{"id": "f", "text": "marathon stadium referee", "topic": "sport"}]
    add_to_index(
        tmp_path / "idx", encoder.encode([more[0]["text"]]), more, model={"name": "bag", "path": "bag"}
    )
    reloaded = DocumentIndex.load(tmp_path / "idx")
    assert [h.id for h in search(reloaded, encoder, "marathon", k=1, mode="bm25")] == ["f"]


def test_cli_build_chunks_and_searches_by_mode_filter_and_like(tiny_model_dir, tmp_path):
    docs = tmp_path / "docs.jsonl"
    long_text = "a man plays guitar on the street. " * 40
    rows = [{"id": "long", "text": long_text, "kind": "music"}, *({**d, "kind": d["topic"]} for d in DOCS)]
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "idx"
    runner = CliRunner()
    built = runner.invoke(
        app,
        [
            "index",
            "build",
            str(tiny_model_dir),
            str(docs),
            "--out",
            str(out),
            "--chunk-tokens",
            "32",
            "--chunk-overlap",
            "8",
        ],
    )
    assert built.exit_code == 0, built.output
    assert "6 documents" in built.output and "BM25" in built.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["chunking"] == {"window": 32, "overlap": 8} and manifest["count"] > 6
    found = runner.invoke(app, ["index", "search", str(out), "guitar street", "--mode", "bm25", "-k", "3"])
    assert found.exit_code == 0 and "long" in found.output
    filtered = runner.invoke(
        app, ["index", "search", str(out), "rocket", "--where", "kind=cooking", "-k", "2"]
    )
    cell = lambda doc, output: re.search(rf"│ {doc}\s*│", output) is not None  # noqa: E731  (the id column)
    assert filtered.exit_code == 0 and cell("e", filtered.output) and not cell("a", filtered.output)
    like = runner.invoke(app, ["index", "search", str(out), "--like", "long", "-k", "2"])
    assert like.exit_code == 0 and not cell("long", like.output)
    neither = runner.invoke(app, ["index", "search", str(out)])
    assert neither.exit_code == 2 and "--like" in neither.stderr
    bad = runner.invoke(app, ["index", "search", str(out), "x", "--where", "kind"])
    assert bad.exit_code == 2 and "field=value" in bad.stderr


def test_rerank_reorders_the_first_stage_by_the_rerankers_scores(tmp_path, tiny_reranker_dir):
    from embedlab.models.cross_encoder import load_cross_encoder, rerank

    index, encoder = build(tmp_path)
    reranker = load_cross_encoder(tiny_reranker_dir, device="cpu")
    first = search(index, encoder, "rocket garlic", k=5, mode="dense")
    hits = search(index, encoder, "rocket garlic", k=2, mode="dense", rerank=reranker, rerank_depth=5)
    scores = rerank("rocket garlic", [h.highlight for h in first], reranker)
    best = sorted(range(5), key=lambda i: -scores[i])[:2]
    assert [h.id for h in hits] == [first[i].id for i in best]
    assert [h.rerank_score for h in hits] == pytest.approx([float(scores[i]) for i in best])
    assert hits[0].score == first[best[0]].score  # the first stage's score is kept beside the reranker's
    with pytest.raises(EmbedlabError, match="rerank_depth=0"):
        search(index, encoder, "rocket", rerank=reranker, rerank_depth=0)


def test_cli_search_rerank_shows_both_scores_and_refuses_an_embedding_model(
    tiny_model_dir, tiny_reranker_dir, tmp_path
):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    out = tmp_path / "idx"
    runner = CliRunner()
    built = runner.invoke(app, ["index", "build", str(tiny_model_dir), str(docs), "--out", str(out)])
    assert built.exit_code == 0, built.output
    found = runner.invoke(app, ["index", "search", str(out), "rocket", "--rerank", str(tiny_reranker_dir)])
    assert found.exit_code == 0, found.output
    assert "rerank" in found.output and "top 50 reranked" in found.output
    wrong = runner.invoke(app, ["index", "search", str(out), "rocket", "--rerank", str(tiny_model_dir)])
    assert wrong.exit_code == 2 and "is an embedding model" in wrong.stderr
    assert [line for line in wrong.stderr.splitlines() if "error" in line] == [wrong.stderr.splitlines()[-1]]


def test_the_snippet_is_the_part_around_the_query_words():
    from embedlab.index.search import snippet

    filler = "lorem ipsum dolor sit amet " * 20
    text = filler + "every planar graph admits a four colouring of its vertices " + filler
    cut = snippet(text, "Graph colouring", width=120)
    assert "planar graph admits a four colouring" in cut and cut.startswith("… ") and cut.endswith(" …")
    assert len(cut) <= 124 and snippet("a short text", "graph") == "a short text"
    assert snippet(text, "nowhere", width=60).startswith("lorem ipsum")  # no word found: the start
    assert "graphs" not in snippet(text.replace("graph ", "graphs "), "graph", width=60)  # whole words
