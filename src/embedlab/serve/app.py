"""`create_app(settings)`: the FastAPI embedding service.

Routes (in `embedlab.serve.routes`): GET /health, GET /ready, GET /metrics (Prometheus), POST /embed,
POST /similarity, POST /search (when an index is loaded), the OpenAI-compatible POST /v1/embeddings and,
with a reranker, POST /v1/rerank.
Every encode goes through the micro-batcher, so concurrent requests share encode calls. This module holds
what wraps the routes: state, metrics, authentication, body limits and error handling, as plain ASGI
middleware (Starlette's BaseHTTPMiddleware costs more per request than the encoder does at batch 1).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from embedlab.serve.batching import MicroBatcher
from embedlab.serve.rerank_routes import router as rerank_router
from embedlab.serve.routes import busy_message, error_response, router
from embedlab.serve.search_routes import manifest_stamp
from embedlab.serve.search_routes import router as search_router
from embedlab.serve.settings import ServeSettings

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})
ENCODING_PATHS = frozenset({"/embed", "/similarity", "/search", "/v1/embeddings"})
RERANKING_PATHS = frozenset({"/v1/rerank"})
DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


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
        self.encode_seconds = Histogram(
            "embedlab_encode_seconds", "Seconds per encode call", registry=self.registry
        )
        self.shed = Counter(
            "embedlab_shed", "Requests refused or dropped under load", ["reason"], registry=self.registry
        )

    def observe_batch(self, texts: int, requests: int, seconds: float) -> None:
        """Record one encoded batch: seconds, texts, requests."""
        self.encode_seconds.observe(seconds)
        self.batch_texts.observe(texts)
        self.batch_requests.observe(requests)
        self.texts.inc(texts)


class ServiceMiddleware:
    """Pure ASGI: body limit (413), API key (401) and request metrics around every HTTP request."""

    def __init__(self, app, settings: ServeSettings, metrics: Metrics, state) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.state = state  # the app's state: the batcher, once started
        self.open_paths = OPEN_PATHS | (DOC_PATHS if settings.public_docs else frozenset())

    async def __call__(self, scope, receive, send):
        """The ASGI entry: body limit, API key, early 503 while the queue is full, metrics."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, recording_send)
        else:
            try:
                await self.app(scope, self._limited(receive), recording_send)
            except _BodyTooLarge:
                await self._too_large()(scope, receive, recording_send)
        route = scope.get("route")
        path = route.path if route is not None else "other"
        self.metrics.requests.labels(path, str(status["code"])).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - started)

    def _refusal(self, scope) -> Response | None:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            return self._too_large()
        key = self.settings.api_key
        if key and scope["path"] not in self.open_paths:
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given, f"Bearer {key}"):
                return error_response(401, "missing or wrong API key (Authorization: Bearer ...)")
        return self._shed(scope)

    def _shed(self, scope) -> Response | None:
        """Refuse before the body is read or validated while the queue is full: under a storm of requests,
        each refusal must cost next to nothing.
        """
        path = scope["path"]
        batcher = self.state.rerank_batcher if path in RERANKING_PATHS else self.state.batcher
        if batcher is None or path not in ENCODING_PATHS | RERANKING_PATHS or not batcher.full:
            return None
        self.metrics.shed.labels("queue full").inc()
        retry = batcher.retry_after()
        return error_response(503, busy_message(batcher, retry), headers={"Retry-After": str(retry)})

    def _limited(self, receive):
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.settings.max_body_bytes:
                raise _BodyTooLarge
            return message

        return counting_receive

    def _too_large(self) -> Response:
        return error_response(413, f"request body over {self.settings.max_body_bytes} bytes")


class _BodyTooLarge(Exception):
    pass


async def _validation_error(request, error: RequestValidationError) -> Response:
    """422 naming each bad field in plain words (`input: ...`), without echoing the input (which may not even
    be encodable) or the validators' internal names.
    """
    problems, params = [], []
    for item in error.errors():
        # the validators' own steps ("function-after[...]", "constrained-str", union branches) are not fields
        where = [str(p) for p in item.get("loc", ()) if p != "body" and not _internal(str(p))]
        params.append(".".join(where) or None)
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{params[-1]}: {message}" if params[-1] else message)
    return error_response(422, "; ".join(dict.fromkeys(problems)), params[0] if params else None)


def _internal(part: str) -> bool:
    return (
        "[" in part or part.startswith(("function-", "constrained-")) or part in {"str", "list[str]", "int"}
    )


async def _http_error(request, error: StarletteHTTPException) -> Response:
    """Every refusal a route raises, in the one error shape."""
    return error_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))


def create_app(
    settings: ServeSettings | None = None, encoder=None, index=None, classifier=None, reranker=None
) -> FastAPI:
    """The service app. Pass a loaded `encoder` / `index` / `classifier` / `reranker` (a `CrossEncoder`), or
    let it load them from `settings`.

    Example::

        import uvicorn
        app = create_app(ServeSettings(model="my-model", backend="onnx-int8", index_dir="my-index",
                                       reranker="runs/reranker-arxiv-minilm/model"))
        uvicorn.run(app, port=8000)
    """
    settings = settings or ServeSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        if state.encoder is None:
            state.index_stamp = manifest_stamp(settings.index_dir)
            state.encoder, state.index, state.classifier = load_service_models(settings)
        if state.reranker is None and settings.reranker:
            state.reranker = load_service_reranker(settings)
        state.batcher = _batcher(state.encoder, settings, metrics)
        batchers = [state.batcher]
        if state.reranker is not None:
            from embedlab.serve.rerank_routes import PairScorer, pair_length

            state.rerank_batcher = _batcher(PairScorer(state.reranker), settings, metrics, length=pair_length)
            batchers.append(state.rerank_batcher)
        for batcher in batchers:
            batcher.start()
        yield
        await asyncio.gather(*(b.stop(grace=settings.shutdown_grace_s) for b in batchers))

    app = FastAPI(title="embedlab embedding service", version="0.1.0", lifespan=lifespan)
    app.state.settings, app.state.metrics = settings, metrics
    app.state.started = time.time()  # what /v1/models reports as `created`
    app.state.encoder, app.state.index, app.state.batcher = encoder, index, None
    app.state.classifier = classifier
    app.state.reranker, app.state.rerank_batcher = reranker, None
    app.state.index_stamp = manifest_stamp(settings.index_dir)  # reloaded when a writer commits anew
    app.state.index_lock = asyncio.Lock()
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.include_router(router)
    app.include_router(search_router)
    app.include_router(rerank_router)
    app.add_middleware(ServiceMiddleware, settings=settings, metrics=metrics, state=app.state)
    return app


def load_service_models(settings: ServeSettings):
    """The encoder, and (if set) the index and the classifier, checked to belong together.

    Raises `EmbedlabError` with one clear line for a missing model or ONNX file, a bad index or a model
    that is not the index's, so `embedlab serve` can say so before it listens.
    """
    from embedlab.runtime.encoder import load_encoder

    encoder = load_encoder(
        settings.model, settings.backend, settings.threads, device=settings.device, dtype=settings.dtype
    )
    index = None
    if settings.index_dir:
        from embedlab.index import DocumentIndex

        index = DocumentIndex.load(settings.index_dir)
        index.check_model(encoder.identity, encoder.dim, settings.index_dir)
    classifier = None
    if settings.classifier_dir:
        from embedlab.models.classifier import Classifier, check_classifier_model

        classifier = Classifier.load(settings.classifier_dir)
        check_classifier_model(classifier, encoder.identity, encoder.dim, settings.classifier_dir)
    return encoder, index, classifier


def _batcher(encoder, settings: ServeSettings, metrics: Metrics, length=len) -> MicroBatcher:
    return MicroBatcher(
        encoder,
        settings.max_batch_size,
        settings.max_wait_ms,
        settings.max_queue_texts,
        on_batch=metrics.observe_batch,
        encode_batch_size=settings.encode_batch_size,
        length=length,
    )


def load_service_reranker(settings: ServeSettings):
    """The reranker `settings.reranker` names, on `settings.rerank_backend` and the service's device; an
    embedding model there is one line naming what it is (so `embedlab serve` says so before it listens).
    """
    from embedlab.models.cross_encoder import check_reranker
    from embedlab.runtime.reranker import load_reranker

    assert settings.reranker is not None
    check_reranker(settings.reranker, "reranker")
    return load_reranker(
        settings.reranker, settings.rerank_backend, threads=settings.threads, device=settings.device
    )
