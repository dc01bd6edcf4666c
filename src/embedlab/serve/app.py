"""`create_app(settings)`: the FastAPI embedding service.

Routes: GET /health, GET /ready, GET /metrics (Prometheus), POST /embed, POST /similarity, POST /search
(when an index is loaded) and the OpenAI-compatible POST /v1/embeddings. Every encode goes through the
micro-batcher, so concurrent requests share encode calls.
"""

from __future__ import annotations

import base64
import hmac
import time
from contextlib import asynccontextmanager

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from embedlab.serve.batching import MicroBatcher, QueueFull
from embedlab.serve.schemas import (
    EmbedRequest,
    EmbedResponse,
    OpenAIEmbedding,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    OpenAIUsage,
    SearchHit,
    SearchRequest,
    SearchResponse,
    SimilarityRequest,
    SimilarityResponse,
)
from embedlab.serve.settings import ServeSettings

OPEN_PATHS = {"/health", "/ready", "/metrics"}
ERRORS = {
    400: {"description": "Empty input, or a value out of range"},
    401: {"description": "Missing or wrong API key (when one is configured)"},
    413: {"description": "Too many inputs, an input too long (reject mode), or a body over the limit"},
    503: {"description": "Queue full: too many requests waiting"},
}


class Metrics:
    """Prometheus metrics in a registry of this app's own (several apps can live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "embedlab_requests", "HTTP requests", ["path", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "embedlab_request_seconds", "Request latency", ["path"], registry=self.registry
        )
        self.batch_texts = Histogram(
            "embedlab_batch_texts",
            "Texts per encode call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "embedlab_batch_requests",
            "Requests per encode call",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.texts = Counter("embedlab_texts", "Texts embedded", registry=self.registry)

    def observe_batch(self, texts: int, requests: int) -> None:
        self.batch_texts.observe(texts)
        self.batch_requests.observe(requests)
        self.texts.inc(texts)


class BodyLimit:
    """Pure ASGI middleware: 413 for a body over the limit, whether announced by Content-Length or not."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _too_large(self.max_bytes, send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await _too_large(self.max_bytes, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(limit: int, send) -> None:
    response = JSONResponse({"detail": f"request body over {limit} bytes"}, status_code=413)
    await response({"type": "http"}, None, send)


def prepare_texts(raw: str | list[str], settings: ServeSettings) -> list[str]:
    """Apply the input limits: clear 4xx errors instead of encoder failures or unbounded work."""
    texts = [raw] if isinstance(raw, str) else list(raw)
    if not texts:
        raise HTTPException(400, "input is empty: give at least one text")
    if len(texts) > settings.max_inputs:
        raise HTTPException(413, f"{len(texts)} inputs in one request; at most {settings.max_inputs}")
    prepared = []
    for position, text in enumerate(texts):
        if not text.strip():
            raise HTTPException(400, f"input {position} is empty")
        if len(text) > settings.max_chars:
            if settings.too_long == "reject":
                raise HTTPException(
                    413, f"input {position} has {len(text)} characters; at most {settings.max_chars}"
                )
            text = text[: settings.max_chars]
        prepared.append(text)
    return prepared


def create_app(settings: ServeSettings | None = None, encoder=None, index=None) -> FastAPI:
    settings = settings or ServeSettings()
    metrics = Metrics()
    state: dict = {"encoder": encoder, "index": index, "batcher": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state["encoder"] is None:
            from embedlab.runtime.encoder import load_encoder

            state["encoder"] = load_encoder(settings.model, settings.backend, settings.threads)
        if state["index"] is None and settings.index_dir:
            from embedlab.index import DocumentIndex

            state["index"] = DocumentIndex.load(settings.index_dir)
            state["index"].check_encoder(state["encoder"])
        batcher = MicroBatcher(
            state["encoder"],
            settings.max_batch_size,
            settings.max_wait_ms,
            settings.queue_size,
            on_batch=metrics.observe_batch,
        )
        batcher.start()
        state["batcher"] = batcher
        yield
        await batcher.stop()

    app = FastAPI(title="embedlab embedding service", version="0.1.0", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = route.path if route is not None else "other"
        metrics.requests.labels(path, str(response.status_code)).inc()
        metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response

    def authorised(request: Request) -> None:
        if not settings.api_key or request.url.path in OPEN_PATHS:
            return
        if not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {settings.api_key}"):
            raise HTTPException(401, "missing or wrong API key (Authorization: Bearer ...)")

    async def embed(texts: list[str]) -> np.ndarray:
        try:
            return await state["batcher"].encode(texts)
        except QueueFull:
            raise HTTPException(503, "server busy: too many requests waiting; retry shortly") from None

    def model_name() -> str:
        return settings.model

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": "Still starting"}})
    async def ready():
        batcher = state["batcher"]
        if batcher is None or not batcher.running:
            return JSONResponse({"status": "starting"}, status_code=503)
        return {
            "status": "ready",
            "model": settings.model,
            "dim": state["encoder"].dim,
            "index": state["index"].manifest["count"] if state["index"] else None,
        }

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/embed", dependencies=[Depends(authorised)], responses=ERRORS)
    async def embed_route(body: EmbedRequest) -> EmbedResponse:
        vectors = await embed(prepare_texts(body.inputs, settings))
        if body.normalize:
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        return EmbedResponse(model=model_name(), dim=vectors.shape[1], embeddings=vectors.tolist())

    @app.post("/similarity", dependencies=[Depends(authorised)], responses=ERRORS)
    async def similarity(body: SimilarityRequest) -> SimilarityResponse:
        texts = prepare_texts([body.source, *body.targets], settings)
        if len(texts) < 2:
            raise HTTPException(400, "targets is empty: give at least one text to compare with")
        vectors = await embed(texts)
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        return SimilarityResponse(model=model_name(), scores=(vectors[1:] @ vectors[0]).tolist())

    @app.post(
        "/search",
        dependencies=[Depends(authorised)],
        responses={**ERRORS, 404: {"description": "No index loaded"}},
    )
    async def search(body: SearchRequest) -> SearchResponse:
        index = state["index"]
        if index is None:
            raise HTTPException(404, "no index loaded; start the service with --index DIR")
        if body.k > settings.max_k:
            raise HTTPException(400, f"k is {body.k}; at most {settings.max_k}")
        (query,) = prepare_texts(body.query, settings)
        vector = await embed([query])
        (hits,) = index.search(_Precomputed(vector, index.manifest["dim"]), [query], body.k)
        return SearchResponse(
            model=model_name(),
            hits=[SearchHit(id=h.document["id"], score=h.score, document=h.document) for h in hits],
        )

    @app.post("/v1/embeddings", dependencies=[Depends(authorised)], responses=ERRORS)
    async def openai_embeddings(body: OpenAIEmbeddingRequest) -> OpenAIEmbeddingResponse:
        texts = prepare_texts(body.input, settings)
        vectors = await embed(texts)
        dim = vectors.shape[1]
        if body.dimensions is not None:
            if body.dimensions > dim:
                raise HTTPException(400, f"dimensions is {body.dimensions}; this model gives at most {dim}")
            vectors = vectors[:, : body.dimensions]  # matryoshka truncation, then re-normalise
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)).astype("<f4")
        data = [
            OpenAIEmbedding(
                index=i,
                embedding=base64.b64encode(v.tobytes()).decode()
                if body.encoding_format == "base64"
                else v.tolist(),
            )
            for i, v in enumerate(vectors)
        ]
        tokens = state["encoder"].count_tokens(texts)
        return OpenAIEmbeddingResponse(
            data=data,
            model=body.model or model_name(),
            usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens),
        )

    return app


class _Precomputed:
    """Lets the index search with a vector the batcher already computed."""

    def __init__(self, vectors: np.ndarray, dim: int) -> None:
        self.vectors = vectors
        self.dim = dim

    def encode(self, texts, batch_size: int = 32) -> np.ndarray:
        return self.vectors
