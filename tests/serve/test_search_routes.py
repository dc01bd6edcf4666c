"""The routes that use the vectors: /search (modes, filters, like), /match, /classify, and the search page,
through a live server — and the page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import shutil

import httpx
import pytest

from embedlab.index import DocumentIndex
from embedlab.serve import ServeSettings, create_app
from tests.corpora import BagOfWordsEncoder, topic_texts
from tests.serve.test_routes import LiveServer

DOCS = [
    {"id": "a", "text": "rocket launch orbit satellite", "topic": "space", "year": 2020},
    {"id": "b", "text": "telescope galaxy comet star", "topic": "space", "year": 2021},
    {"id": "c", "text": "bread butter flour oven", "topic": "cooking", "year": 2020},
    {"id": "d", "text": "garlic onion sauce simmer", "topic": "cooking", "year": 2021},
    {"id": "e", "text": "rocket salad with onion and garlic", "topic": "cooking", "year": 2022},
]


@pytest.fixture(scope="module")
def server():
    from embedlab.apps.classify import train_classifier

    encoder = BagOfWordsEncoder()
    index = DocumentIndex.build(
        encoder.encode([d["text"] for d in DOCS]), DOCS, model=encoder.identity, bm25=True
    )
    texts, topics = topic_texts()
    classifier, _ = train_classifier(encoder.encode(texts), topics, model=encoder.identity)
    settings = ServeSettings(model="bag-of-words", max_inputs=16)
    with LiveServer(create_app(settings, encoder=encoder, index=index, classifier=classifier)) as live:
        yield live


def post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body)


def test_search_modes_filters_and_like(server):
    dense = post(server, "/search", {"query": "rocket orbit", "k": 1, "mode": "dense"}).json()["hits"]
    assert [h["id"] for h in dense] == ["a"] and dense[0]["metadata"] == {"topic": "space", "year": 2020}
    bm25 = post(server, "/search", {"query": "rocket", "mode": "bm25"}).json()["hits"]
    assert {h["id"] for h in bm25} == {"a", "e"}
    filtered = post(
        server, "/search", {"query": "rocket", "where": {"topic": "cooking", "year": 2022}}
    ).json()
    assert [h["id"] for h in filtered["hits"]] == ["e"] and filtered["hits"][0]["highlight"] == DOCS[4][
        "text"
    ]
    like = post(server, "/search", {"like": "d", "k": 2}).json()["hits"]
    assert like[0]["id"] == "e" and "d" not in [h["id"] for h in like]
    (fused, *_) = post(server, "/search", {"query": "rocket orbit", "mode": "hybrid"}).json()["hits"]
    assert fused["id"] == "a" and fused["sides"]["dense"] == pytest.approx(dense[0]["score"], abs=1e-5)
    assert fused["sides"]["bm25"] > 0 and fused["score"] == pytest.approx(2 / 61, abs=1e-6)  # first on both
    assert dense[0]["sides"] == {} and dense[0]["snippet"] == dense[0]["highlight"]  # short: whole


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        ({"query": "x", "like": "a"}, 422, "not both"),
        ({}, 422, "not both"),
        ({"like": "zzz"}, 400, "no document with this id"),
        ({"query": "x", "mode": "fuzzy"}, 422, "mode"),
        ({"query": "x", "k": 0}, 422, "k"),
    ],
)
def test_bad_search_requests_are_4xx(server, body, status, phrase):
    response = post(server, "/search", body)
    assert response.status_code == status and phrase in response.text


def test_match_answers_and_says_no_match_below_the_score(server):
    body = {
        "queries": ["rocket launch orbit", "marathon stadium"],
        "candidates": [d["text"] for d in DOCS],
        "k": 1,
        "min_score": 0.3,
    }
    matches = post(server, "/match", body).json()["matches"]
    assert matches[0][0]["candidate"] == 0 and matches[1] == []
    assert post(server, "/match", {**body, "min_score": 3}).status_code == 422


def test_classify_labels_texts(server):
    texts, topics = topic_texts(per_topic=2, seed=5)
    predictions = post(server, "/classify", {"inputs": texts}).json()["predictions"]
    assert [p["label"] for p in predictions] == topics and all(0 < p["confidence"] <= 1 for p in predictions)


def test_without_index_or_classifier_the_routes_say_so():
    encoder = BagOfWordsEncoder()
    with LiveServer(create_app(ServeSettings(model="bag"), encoder=encoder)) as live:
        assert post(live, "/classify", {"inputs": "x"}).status_code == 404
        assert post(live, "/search", {"query": "x"}).status_code == 404
        page = httpx.get(f"{live.url}/")  # a page saying what is served, and how to get the search
        assert page.status_code == 200 and "--index DIR" in page.text and "/v1/embeddings" in page.text


def test_the_page_is_served_with_an_index(server):
    page = httpx.get(f"{server.url}/")
    assert (
        page.status_code == 200 and "text/html" in page.headers["content-type"] and 'id="query"' in page.text
    )


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_search_page_in_a_real_browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/")
            page.wait_for_function("document.activeElement && document.activeElement.id === 'query'")
            assert page.locator("#rerank-switch").is_hidden()  # no reranker loaded: no switch
            page.keyboard.type("rocket orbit")  # the box has the focus on load: keyboard first
            page.keyboard.press("Enter")
            page.wait_for_selector("li.hit")
            ids = page.locator("li.hit .id").all_inner_texts()
            assert ids[0] == "a"
            marked = {m.lower() for m in page.locator("li.hit").first.locator("mark").all_inner_texts()}
            assert marked == {"rocket", "orbit"}  # the query's words are highlighted in the passage
            page.fill("#where", "topic=cooking")
            page.keyboard.press("Enter")
            page.wait_for_function("document.querySelector('li.hit .id').textContent === 'e'")
            assert page.locator("li.hit .meta").first.inner_text().startswith("topic: cooking")
            page.keyboard.press("Escape")
            page.keyboard.press("ArrowDown")
            assert page.evaluate("document.activeElement.dataset.id") == "e"
            page.check("input[value=bm25]")
            page.wait_for_function("document.getElementById('status').textContent.includes('bm25')")
            marked = page.evaluate("highlight('the whole <hole> mark', ['hole', 'mark'])")
            assert marked == "the whole &lt;<mark>hole</mark>&gt; <mark>mark</mark>"  # whole words, escaped
            page.fill("#where", "cooking")  # no field=value: said as the CLI says it, nothing searched
            page.press("#where", "Enter")
            page.wait_for_function("document.getElementById('status').textContent.includes('field=value')")
            assert page.locator("li.hit").count() == 0
        finally:
            browser.close()
