"""Routes that use the vectors: `POST /search` (dense, BM25 or hybrid; filters; more like a document),
`POST /match`, `POST /classify` (when a classifier is loaded) and the search page at `GET /`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from embedlab.errors import EmbedlabError
from embedlab.io import l2_normalise
from embedlab.serve.routes import ERRORS, embed, json_response, prepare_texts
from embedlab.serve.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    MatchRequest,
    MatchResponse,
    SearchRequest,
    SearchResponse,
)

router = APIRouter()
NOT_LOADED: dict[int | str, dict[str, Any]] = {404: {"description": "No index (or classifier) loaded"}}


def manifest_stamp(directory: str | None) -> int | None:
    """When the index folder's manifest last changed (None without one): a writer's commit point."""
    from embedlab.index.manifest import MANIFEST

    try:
        return (Path(directory) / MANIFEST).stat().st_mtime_ns if directory else None
    except OSError:
        return None


async def current_index(state):
    """The loaded index, loaded again when `index add` (or a rebuild) committed a new version since: a
    search sees what was written. A new version of another model is refused and the old one kept.
    """
    from starlette.concurrency import run_in_threadpool

    from embedlab.index import DocumentIndex

    stamp = manifest_stamp(state.settings.index_dir)
    if state.index is None or stamp is None or stamp == state.index_stamp:
        return state.index
    async with state.index_lock:
        if stamp != state.index_stamp:
            fresh = await run_in_threadpool(DocumentIndex.load, state.settings.index_dir)
            fresh.check_model(state.encoder.identity, state.encoder.dim, state.settings.index_dir)
            state.index, state.index_stamp = fresh, stamp
    return state.index


@router.post("/search", responses={**ERRORS, **NOT_LOADED}, response_model=SearchResponse)
async def search(body: SearchRequest, request: Request) -> Response:
    """The `k` best documents for `query` (or like the document `like`), filtered by `where`."""
    from embedlab.index.search import effective_mode, more_like_this, parse_where, search_rows

    state = request.app.state
    if state.index is None:
        raise HTTPException(404, "no index loaded; start the service with --index DIR")
    try:
        index = await current_index(state)
    except EmbedlabError as error:  # the folder now holds another model's index: keep serving the old one
        raise HTTPException(409, str(error)) from None
    if body.k > state.settings.max_k:
        raise HTTPException(400, f"k is {body.k}; at most {state.settings.max_k}")
    depth = _rerank_depth(body, state)
    where = parse_where(body.where)  # typed as JSON: true is not "true"
    try:
        if body.like is not None:
            hits = more_like_this(index, body.like, k=body.k, where=where)
        else:
            (query,) = prepare_texts(body.query or "", state.settings)
            mode = effective_mode(index, body.mode)
            vector = (await embed(request, [query]))[0][0] if mode != "bm25" else None
            hits = search_rows(index, vector=vector, text=query, k=max(body.k, depth), mode=mode,
                               where=where, exclude=None)  # fmt: skip
    except EmbedlabError as error:
        raise HTTPException(400, str(error)) from None
    if depth:
        hits = await _reranked(request, query, hits)
    return json_response({"model": state.settings.model, "hits": [h.to_dict() for h in hits[: body.k]]})


def _rerank_depth(body, state) -> int:
    """How many first-stage hits the reranker reorders (0: no reranking), or why it cannot."""
    if not body.rerank:
        return 0
    from embedlab.models.cross_encoder import RERANK_DEPTH
    from embedlab.serve.rerank_routes import NO_RERANKER

    if state.reranker is None:
        raise HTTPException(400, f"rerank: {NO_RERANKER}")
    if body.like is not None:
        raise HTTPException(400, "rerank reorders the results of a `query`, not of `like`")
    if body.rerank_depth is None:
        return min(RERANK_DEPTH, state.settings.max_inputs)
    if body.rerank_depth > state.settings.max_inputs:
        raise HTTPException(400, f"rerank_depth is {body.rerank_depth}; at most {state.settings.max_inputs}")
    return body.rerank_depth


async def _reranked(request: Request, query: str, hits: list) -> list:
    from embedlab.index.search import with_rerank_scores
    from embedlab.serve.rerank_routes import rerank_scores

    if not hits:
        return hits
    scores, _ = await rerank_scores(request, query, [hit.highlight for hit in hits])
    return with_rerank_scores(hits, scores.tolist())


@router.post("/match", responses=ERRORS, response_model=MatchResponse)
async def match(body: MatchRequest, request: Request) -> Response:
    """For each query, the best candidates (up to `k`) with cosine ≥ `min_score`; [] means no match."""
    from embedlab.index.neighbours import best_matches

    state = request.app.state
    if len(body.queries) + len(body.candidates) > state.settings.max_inputs:
        raise HTTPException(
            413, f"{len(body.queries) + len(body.candidates)} texts; at most {state.settings.max_inputs}"
        )
    texts = prepare_texts([*body.queries, *body.candidates], state.settings)
    vectors = l2_normalise((await embed(request, texts))[0])
    queries, candidates = vectors[: len(body.queries)], vectors[len(body.queries) :]
    found = best_matches(queries, candidates, k=body.k, min_score=body.min_score)
    matches = [[{"candidate": c, "score": score} for c, score in row] for row in found]
    return json_response({"model": state.settings.model, "matches": matches})


@router.post("/classify", responses={**ERRORS, **NOT_LOADED}, response_model=ClassifyResponse)
async def classify(body: ClassifyRequest, request: Request) -> Response:
    """The label of each input by the loaded classifier, with its probability."""
    state = request.app.state
    if state.classifier is None:
        raise HTTPException(404, "no classifier loaded; start the service with --classifier DIR")
    vectors, _ = await embed(request, prepare_texts(body.inputs, state.settings))
    labels, confidence = state.classifier.predict(np.asarray(vectors))
    predictions = [
        {"label": label, "confidence": float(c)} for label, c in zip(labels, confidence, strict=True)
    ]
    return json_response({"model": state.settings.model, "predictions": predictions})


@router.get("/", include_in_schema=False, response_model=None)
async def search_page(request: Request) -> Response:
    """A small search page (no build step: one HTML file with its CSS and JS) when an index is loaded;
    without one, a page saying what this service offers and how to add the search.
    """
    if request.app.state.index is None:
        return HTMLResponse(_overview(request.app.state))
    page = resources.files("embedlab.serve").joinpath("static/search.html").read_text(encoding="utf-8")
    return HTMLResponse(page)


def _overview(state) -> str:
    """What the service answers, for a browser opening it without an index."""
    from html import escape

    routes = [
        ("POST /v1/embeddings", "OpenAI's embeddings (any OpenAI client, base_url …/v1)"),
        ("GET /v1/models", "the model served"),
        ("POST /embed, /similarity", "vectors, and cosines of texts to a query"),
        *([("POST /v1/rerank", "TEI / Cohere / Jina reranking")] if state.reranker is not None else []),
        *([("POST /classify", "labels from the loaded classifier")] if state.classifier is not None else []),
        ("GET /docs", "every route, to try in the browser"),
        ("GET /metrics, /health, /ready", "Prometheus metrics and probes"),
    ]
    rows = "".join(f"<tr><td><code>{escape(r)}</code></td><td>{escape(w)}</td></tr>" for r, w in routes)
    model = escape(str(state.settings.model))
    return (
        f"<!doctype html><meta charset=utf-8><title>embedlab · {model}</title>"
        "<style>body{font:16px system-ui;margin:2rem auto;max-width:46rem}td{padding:.3rem .8rem}</style>"
        f"<h1>embedlab serves {model}</h1><table>{rows}</table>"
        "<p>No index is loaded, so there is no search page: start the service with <code>--index DIR</code> "
        "(an <code>embedlab index build</code> folder) to search it here.</p>"
    )
