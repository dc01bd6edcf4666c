"""The service's routes, on one APIRouter; their state (encoder, index, batcher, settings) is `app.state`.

Bodies are validated by the schemas (422), limits give clear 4xx, overload gives 503 with Retry-After, a
request past its deadline 504. Responses are serialised with orjson straight from numpy arrays.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from embedlab.io import l2_normalise
from embedlab.serve.batching import DeadlineExceeded, Overloaded, ShuttingDown
from embedlab.serve.schemas import (
    EmbedRequest,
    EmbedResponse,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    SimilarityRequest,
    SimilarityResponse,
)
from embedlab.serve.settings import ServeSettings

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Empty input, or a value out of range"},
    401: {"description": "Missing or wrong API key (when one is configured)"},
    413: {"description": "Too many inputs, an input too long (reject mode), or a body over the limit"},
    503: {"description": "Overloaded (queue full; see Retry-After) or shutting down"},
    504: {"description": "The request waited past its deadline (EMBEDLAB_REQUEST_TIMEOUT_S)"},
}

router = APIRouter()


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


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body is already read, so the next message says so)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _cancel_if_gone(watch: asyncio.Future, handler) -> None:
    if not watch.cancelled() and watch.exception() is None:
        handler.cancel()  # the client hung up: stop waiting, which takes the texts out of the queue


async def embed(request: Request, texts: list, batcher=None) -> tuple[np.ndarray, np.ndarray]:
    """Encode through the batcher (the embeddings', or the reranker's for (query, document) pairs); shed
    load with 503/504, and drop the work if the client leaves.
    """
    state = request.app.state
    batcher = batcher or state.batcher
    handler = asyncio.current_task()
    watch = asyncio.ensure_future(_client_gone(request))
    watch.add_done_callback(lambda w: _cancel_if_gone(w, handler))
    try:
        return await batcher.encode(texts, state.settings.request_timeout_s)
    except asyncio.CancelledError:
        if not watch.done() or watch.cancelled():
            raise  # cancelled for another reason (shutdown): not ours to swallow
        if hasattr(handler, "uncancel"):
            handler.uncancel()  # type: ignore[union-attr]
        state.metrics.shed.labels("client gone").inc()
        raise HTTPException(499, "client closed the request") from None
    except Overloaded as error:
        state.metrics.shed.labels("queue full").inc()
        raise HTTPException(
            503,
            busy_message(batcher, error.retry_after),
            headers={"Retry-After": str(error.retry_after)},
        ) from None
    except DeadlineExceeded:
        state.metrics.shed.labels("deadline").inc()
        raise HTTPException(
            504, f"not answered within {state.settings.request_timeout_s:g} s; retry later"
        ) from None
    except ShuttingDown:
        raise HTTPException(503, "shutting down", headers={"Retry-After": "5"}) from None
    finally:
        watch.cancel()


def busy_message(batcher, retry_after: int) -> str:
    """What a 503 for a full queue says (from the route, or from the middleware before the body is read)."""
    return f"server busy: {batcher.queued_texts} texts waiting; retry in {retry_after} s"


def json_response(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    """JSON through orjson: numpy arrays serialised in C, not float by float."""
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}


def error_response(
    status: int, message: str, param: str | None = None, headers: dict | None = None
) -> Response:
    """An error in OpenAI's shape, what its clients (and most others) read: `{"error": {"message", "type",
    "param", "code"}}` — `type` by status class, `code` the status's name.

    Example::

        error_response(413, "request body over 1048576 bytes")
    """
    from http import HTTPStatus

    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return json_response(body, status, headers)


def served_models(request: Request) -> list[dict]:
    """The models this service answers with, as OpenAI lists them: the embedding model, and the reranker."""
    state = request.app.state
    settings = state.settings
    created = int(getattr(state, "started", 0))
    names = [settings.model] + (
        [settings.reranker] if state.reranker is not None and settings.reranker else []
    )
    return [{"id": name, "object": "model", "created": created, "owned_by": "embedlab"} for name in names]


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    """OpenAI's model list (`client.models.list()`): what `model` a request may name."""
    return json_response({"object": "list", "data": served_models(request)})


@router.get("/v1/models/{model_id:path}", responses={404: {"description": "Not served here"}})
async def get_model(model_id: str, request: Request) -> Response:
    """One served model (`client.models.retrieve(id)`)."""
    for model in served_models(request):
        if model["id"] == model_id:
            return json_response(model)
    raise HTTPException(404, f"model {model_id!r} is not served here; GET /v1/models lists what is")


@router.get("/health")
async def health() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Starting or shutting down"}})
async def ready(request: Request):
    """Readiness: the model is loaded and the batcher takes work (503 while starting or stopping)."""
    state = request.app.state
    batcher = state.batcher
    if batcher is None or not batcher.running:
        return json_response({"status": "starting" if batcher is None else "stopping"}, 503)
    return {
        "status": "ready",
        "model": state.settings.model,
        "dim": state.encoder.dim,
        "index": state.index.manifest["count"] if state.index else None,
        "reranker": state.settings.reranker,
        "queued_texts": batcher.queued_texts,
    }


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(request: Request) -> PlainTextResponse:
    """Prometheus metrics: requests, latency, batch sizes, encode seconds, refused requests."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = request.app.state.metrics.registry
    return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/embed", responses=ERRORS, response_model=EmbedResponse)
async def embed_route(body: EmbedRequest, request: Request) -> Response:
    """Embeddings of one text or a list of texts (L2-normalised unless `normalize` is false)."""
    vectors, _ = await embed(request, prepare_texts(body.inputs, request.app.state.settings))
    if body.normalize:
        vectors = l2_normalise(vectors)
    model = request.app.state.settings.model
    return json_response({"model": model, "dim": int(vectors.shape[1]), "embeddings": vectors})


@router.post("/similarity", responses=ERRORS, response_model=SimilarityResponse)
async def similarity(body: SimilarityRequest, request: Request) -> Response:
    """Cosine similarity of `source` to each of `targets`."""
    texts = prepare_texts([body.source, *body.targets], request.app.state.settings)
    vectors = l2_normalise((await embed(request, texts))[0])
    return json_response({"model": request.app.state.settings.model, "scores": vectors[1:] @ vectors[0]})


@router.post("/v1/embeddings", responses=ERRORS, response_model=OpenAIEmbeddingResponse)
async def openai_embeddings(body: OpenAIEmbeddingRequest, request: Request) -> Response:
    """OpenAI-compatible embeddings (`POST /v1/embeddings`), float or base64."""
    state = request.app.state
    texts = prepare_texts(body.input, state.settings)
    vectors, counts = await embed(request, texts)
    dim = vectors.shape[1]
    if body.dimensions is not None:
        if body.dimensions > dim:
            raise HTTPException(400, f"dimensions is {body.dimensions}; this model gives at most {dim}")
        vectors = vectors[:, : body.dimensions]  # matryoshka truncation, then re-normalise
    vectors = l2_normalise(vectors).astype("<f4", copy=False)
    if body.encoding_format == "base64":
        embeddings: list = [base64.b64encode(v.tobytes()).decode() for v in vectors]
    else:
        embeddings = list(vectors)
    tokens = int(counts.sum())
    return json_response(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(embeddings)],
            "model": body.model or state.settings.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
