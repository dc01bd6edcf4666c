"""`POST /v1/rerank` (the shape TEI, Cohere and Jina clients send) and the reranking `POST /search` asks for:
(query, document) pairs scored by a `CrossEncoder` through a micro-batcher of their own, bounded and shed
like the embeddings' (503 when full, 504 past the deadline, dropped when the client goes).
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from embedlab.serve.routes import ERRORS, embed, json_response, prepare_texts
from embedlab.serve.schemas import RerankRequest, RerankResponse

router = APIRouter()
NO_RERANKER = "no reranker loaded; start the service with --reranker DIR (a CrossEncoder folder)"


class PairScorer:
    """A `CrossEncoder` behind the micro-batcher's encoder interface: each "text" is a (query, document)
    pair, its "vector" the one score, its count the tokens of the pair before the reranker's cut.

    Example::

        scorer = PairScorer(load_cross_encoder("runs/reranker/model"))
        scores, tokens = scorer.encode_counted([("a query", "a document")])
    """

    def __init__(self, model) -> None:
        self.model = model
        self.max_length = model.max_length or model.tokenizer.model_max_length

    def encode_counted(
        self, pairs: list[tuple[str, str]], batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores as an (n, 1) array, and each pair's token count (uncut: above `max_length` it was cut)."""
        from embedlab.models.cross_encoder import score_pairs

        scores = score_pairs(pairs, self.model, batch_size=batch_size)
        if hasattr(self.model, "token_counts"):  # an ONNX reranker (embedlab.runtime.reranker)
            return scores[:, None], self.model.token_counts(pairs)
        queries, documents = [q for q, _ in pairs], [d for _, d in pairs]
        counts = [len(ids) for ids in self.model.tokenizer(queries, documents, truncation=False)["input_ids"]]
        return scores[:, None], np.asarray(counts, dtype=np.int64)


def pair_length(pair: tuple[str, str]) -> int:
    """What the batcher sorts pairs by (like lengths pad little)."""
    return len(pair[0]) + len(pair[1])


async def rerank_scores(request: Request, query: str, documents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The loaded reranker's score of each document for `query`, and each pair's token count."""
    state = request.app.state
    if state.rerank_batcher is None:
        raise HTTPException(404, NO_RERANKER)
    scores, counts = await embed(request, [(query, d) for d in documents], batcher=state.rerank_batcher)
    return scores[:, 0], counts


@router.post("/v1/rerank", responses=ERRORS, response_model=RerankResponse)
async def rerank_route(body: RerankRequest, request: Request) -> Response:
    """The documents ordered by the reranker's relevance score for `query` (best first, `top_n` of them).
    Texts past `max_chars` are cut (or refused, with EMBEDLAB_TOO_LONG=reject), as `/v1/embeddings` does;
    a pair longer than the reranker reads is cut to it, and `meta.truncated` lists those documents.
    """
    settings = request.app.state.settings
    texts = [d if isinstance(d, str) else d.text for d in body.documents]
    if len(texts) > settings.max_inputs:
        raise HTTPException(413, f"{len(texts)} documents in one request; at most {settings.max_inputs}")
    (query,) = prepare_texts(body.query, settings)
    documents = prepare_texts(texts, settings)
    scores, counts = await rerank_scores(request, query, documents)
    scorer = request.app.state.rerank_batcher.encoder
    cut = sorted(
        {i for i, (given, kept) in enumerate(zip(texts, documents, strict=True)) if len(given) > len(kept)}
        | {int(i) for i in np.flatnonzero(counts > scorer.max_length)}
    )
    order = np.argsort(-scores, kind="stable")[: body.top_n]
    results = [
        {"index": int(i), "relevance_score": float(scores[i]),
         **({"document": {"text": documents[i]}} if body.return_documents else {})}
        for i in order
    ]  # fmt: skip
    tokens = int(np.minimum(counts, scorer.max_length).sum())
    return json_response({
        "model": body.model or settings.reranker, "results": results,
        "usage": {"total_tokens": tokens}, "meta": {"truncated": cut, "max_length": scorer.max_length},
    })  # fmt: skip
