"""`POST /v1/rerank` in the shape TEI / Cohere / Jina clients send, and `POST /search`'s rerank switch,
through a live server with the tiny reranker: its order is the reranker's own, its limits are clear 4xx."""

from __future__ import annotations

import shutil

import httpx
import numpy as np
import pytest

from embedlab.errors import ModelError
from embedlab.index import DocumentIndex
from embedlab.runtime.encoder import TorchEncoder
from embedlab.serve import ServeSettings, create_app
from tests.serve.test_routes import LiveServer

DOCS = [
    {"id": "d1", "text": "a man plays guitar"},
    {"id": "d2", "text": "the stock market fell today"},
    {"id": "d3", "text": "a dog runs in the park"},
    {"id": "d4", "text": "a woman plays the flute in the park"},
    {"id": "d5", "text": "a child is reading a book"},
]
QUERY = "someone plays music in the park"


@pytest.fixture(scope="module")
def reranker(tiny_reranker_dir):
    from embedlab.models.cross_encoder import load_cross_encoder

    return load_cross_encoder(tiny_reranker_dir, device="cpu")


@pytest.fixture(scope="module")
def server(tiny_model_dir, tiny_reranker_dir, reranker):
    encoder = TorchEncoder(tiny_model_dir)
    docs = [dict(d) for d in DOCS]
    index = DocumentIndex.build(
        encoder.encode([d["text"] for d in docs]), docs, model=encoder.identity, bm25=True
    )
    settings = ServeSettings(model=str(tiny_model_dir), reranker=str(tiny_reranker_dir), max_inputs=6,
                             max_chars=60, max_wait_ms=5)  # fmt: skip
    with LiveServer(create_app(settings, encoder=encoder, index=index, reranker=reranker)) as live:
        yield live


def direct_scores(reranker, query: str, texts: list[str]) -> np.ndarray:
    from embedlab.models.cross_encoder import rerank

    return rerank(query, texts, reranker)


def test_rerank_orders_as_the_reranker_scores_in_the_common_request_shape(server, reranker):
    texts = [d["text"] for d in DOCS]
    body = {"model": "my-reranker", "query": QUERY, "documents": texts, "top_n": 3, "return_documents": True}
    answer = httpx.post(f"{server.url}/v1/rerank", json=body).json()
    expected = direct_scores(reranker, QUERY, texts)
    order = list(np.argsort(-expected, kind="stable")[:3])
    assert [r["index"] for r in answer["results"]] == order
    assert [r["relevance_score"] for r in answer["results"]] == pytest.approx(
        expected[order].tolist(), abs=1e-5
    )
    assert [r["document"]["text"] for r in answer["results"]] == [texts[i] for i in order]
    assert answer["model"] == "my-reranker" and answer["usage"]["total_tokens"] > 0
    # Cohere's older shape: documents as objects; without top_n every document comes back, no texts
    objects = httpx.post(
        f"{server.url}/v1/rerank", json={"query": QUERY, "documents": [{"text": t} for t in texts]}
    )
    results = objects.json()["results"]
    assert len(results) == len(texts) and "document" not in results[0]
    assert [r["index"] for r in results][:3] == order


def test_over_long_documents_are_cut_and_said_so(server, reranker):
    long = "a dog runs in the park " * 10  # over max_chars (60) and over the reranker's 24 tokens
    answer = httpx.post(f"{server.url}/v1/rerank", json={"query": QUERY, "documents": ["a man", long]}).json()
    assert answer["meta"]["truncated"] == [1] and answer["meta"]["max_length"] == 24


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        ({"query": QUERY, "documents": []}, 422, "documents"),
        ({"query": QUERY, "documents": ["a"] * 7}, 413, "at most 6"),
        ({"query": QUERY, "documents": ["a"], "top_n": 0}, 422, "top_n"),
        ({"query": "  ", "documents": ["a"]}, 422, "query"),
        ({"query": QUERY, "documents": ["a", " "]}, 422, "documents"),
        ({"query": QUERY, "documents": ["a"], "return_documents": "yes"}, 422, "return_documents"),
    ],
)
def test_bad_rerank_requests_are_4xx_with_the_reason(server, body, status, phrase):
    response = httpx.post(f"{server.url}/v1/rerank", json=body)
    assert response.status_code == status and phrase in response.text


def test_search_reranks_its_first_results_on_request(server, reranker):
    first = httpx.post(f"{server.url}/search", json={"query": QUERY, "k": 5, "mode": "dense"}).json()["hits"]
    assert all(h["rerank_score"] is None for h in first)
    body = {"query": QUERY, "k": 2, "mode": "dense", "rerank": True, "rerank_depth": 5}
    hits = httpx.post(f"{server.url}/search", json=body).json()["hits"]
    expected = direct_scores(reranker, QUERY, [h["highlight"] for h in first])
    best = [first[i]["id"] for i in np.argsort(-expected, kind="stable")[:2]]
    assert [h["id"] for h in hits] == best
    assert hits[0]["rerank_score"] == pytest.approx(float(expected.max()), abs=1e-5)
    assert hits[0]["score"] == next(
        h["score"] for h in first if h["id"] == best[0]
    )  # the first stage's, kept
    too_deep = httpx.post(f"{server.url}/search", json={**body, "rerank_depth": 7})
    assert too_deep.status_code == 400 and "at most 6" in too_deep.text


def test_without_a_reranker_rerank_is_refused_with_the_reason(tiny_model_dir):
    encoder = TorchEncoder(tiny_model_dir)
    docs = [dict(d) for d in DOCS]
    index = DocumentIndex.build(encoder.encode([d["text"] for d in docs]), docs, model=encoder.identity)
    with LiveServer(
        create_app(ServeSettings(model=str(tiny_model_dir)), encoder=encoder, index=index)
    ) as live:
        rerank = httpx.post(f"{live.url}/v1/rerank", json={"query": QUERY, "documents": ["a"]})
        assert rerank.status_code == 404 and "--reranker" in rerank.text
        search = httpx.post(f"{live.url}/search", json={"query": QUERY, "rerank": True})
        assert search.status_code == 400 and "no reranker loaded" in search.text


def test_an_embedding_model_given_as_the_reranker_is_one_line(tiny_model_dir):
    from embedlab.serve.app import load_service_reranker

    with pytest.raises(ModelError, match=r"reranker=.* is an embedding model"):
        load_service_reranker(ServeSettings(model=str(tiny_model_dir), reranker=str(tiny_model_dir)))


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_the_search_page_offers_the_rerank_switch_when_a_reranker_is_loaded(server, reranker):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/")
            page.wait_for_selector("#rerank-switch", state="visible")
            page.fill("#query", QUERY)
            page.keyboard.press("Enter")
            page.wait_for_selector("li.hit")
            page.check("#rerank")
            page.wait_for_function("document.getElementById('status').textContent.includes('reranked')")
            assert page.locator("li.hit .score").first.inner_text().startswith("rerank ")
        finally:
            browser.close()


def test_the_int8_reranker_serves_the_same_route(tiny_model_dir, tiny_reranker_dir, tmp_path):
    from embedlab.runtime.export import export_onnx
    from embedlab.serve.app import load_service_reranker

    folder = tmp_path / "reranker"
    shutil.copytree(tiny_reranker_dir, folder)
    export_onnx(folder, int8=True)
    settings = ServeSettings(model=str(tiny_model_dir), reranker=str(folder), rerank_backend="onnx-int8",
                             max_chars=60, max_wait_ms=5)  # fmt: skip
    int8 = load_service_reranker(settings)
    texts = [d["text"] for d in DOCS] + ["music " * 40]  # the last pair is longer than the reranker reads
    with LiveServer(create_app(settings, encoder=TorchEncoder(tiny_model_dir), reranker=int8)) as live:
        answer = httpx.post(f"{live.url}/v1/rerank", json={"query": QUERY, "documents": texts}).json()
    expected = int8.predict([(QUERY, t) for t in texts])
    assert [r["index"] for r in answer["results"]] == list(np.argsort(-expected, kind="stable"))
    assert [r["relevance_score"] for r in answer["results"]] == pytest.approx(
        sorted(expected, reverse=True), abs=1e-4
    )
    assert answer["meta"]["truncated"] == [len(texts) - 1]
