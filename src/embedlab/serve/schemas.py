"""Request and response bodies. Wrong types are rejected by FastAPI with 422 before any handler runs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    model_validator,
)

from embedlab.io import is_valid_unicode


def _encodable(text: str) -> str:
    r"""A JSON string may hold a lone surrogate (`"\ud800"`): no tokenizer takes it, no reply may echo it."""
    if not is_valid_unicode(text):
        raise ValueError("not valid Unicode (it holds a lone surrogate)")
    return text


Str = Annotated[str, AfterValidator(_encodable)]
# The schema says what a usable text is, so clients (and schema-driven fuzzers) see it: not blank.
Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S"), AfterValidator(_encodable)]
Texts = Annotated[list[Text], Field(min_length=1)]


class Strict(BaseModel):
    """A request body that rejects unknown fields."""

    model_config = ConfigDict(extra="forbid")


class EmbedRequest(Strict):
    """`POST /embed`: one text or a list, and whether to L2-normalise."""

    inputs: Text | Texts
    normalize: StrictBool = True


class EmbedResponse(BaseModel):
    """The embeddings of `POST /embed`, in input order."""

    model: str
    dim: int
    embeddings: list[list[float]]


class SimilarityRequest(Strict):
    """`POST /similarity`: one source text and the texts to compare it with."""

    source: Text
    targets: Texts


class SimilarityResponse(BaseModel):
    """The cosine scores of `POST /similarity`, in target order."""

    model: str
    scores: list[float]  # cosine similarity of the source to each target, in order


class SearchRequest(Strict):
    """`POST /search`: a query (or `like`, an indexed document id), how many documents, the mode, filters."""

    query: Text | None = None
    like: Str | None = None
    k: int = Field(default=10, gt=0, strict=True)  # strict: `true` is not 1
    mode: Literal["dense", "bm25", "hybrid"] = "hybrid"
    where: dict[Str, Str | StrictInt | StrictFloat | StrictBool | None] | None = None  # field → value
    rerank: StrictBool = False  # reorder the first `rerank_depth` by the loaded reranker (serve --reranker)
    rerank_depth: int | None = Field(default=None, gt=0, strict=True)  # default 50 (at most max_inputs)

    @model_validator(mode="after")
    def _one_of_query_or_like(self) -> SearchRequest:
        if (self.query is None) == (self.like is None):
            raise ValueError("give `query` (text to look for) or `like` (an indexed document id), not both")
        return self


class SearchHit(BaseModel):
    """One document found by `POST /search`: its score, best passage (with offsets) and metadata."""

    id: str
    score: float  # the first stage's: cosine, BM25, or the fused rank score (hybrid)
    rerank_score: float | None = None  # the reranker's, when `rerank` was asked
    highlight: str
    start: int | None = None
    end: int | None = None
    metadata: dict


class SearchResponse(BaseModel):
    """The hits of `POST /search`, best first."""

    model: str
    hits: list[SearchHit]


class OpenAIEmbeddingRequest(BaseModel):
    """OpenAI's /v1/embeddings body; `user` and unknown extras are accepted and ignored, as OpenAI does."""

    input: Text | Texts
    model: Str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, gt=0, strict=True)
    user: Str | None = None


class OpenAIEmbedding(BaseModel):
    """One embedding of the OpenAI-compatible response."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class OpenAIUsage(BaseModel):
    """Token usage of the OpenAI-compatible response."""

    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingResponse(BaseModel):
    """The OpenAI-compatible `POST /v1/embeddings` response."""

    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage


class MatchRequest(Strict):
    """`POST /match`: for each query, the best of `candidates` (up to `k`) with cosine ≥ `min_score`."""

    queries: Texts
    candidates: Texts
    k: int = Field(default=1, gt=0, strict=True)
    min_score: float = Field(default=0.5, ge=-1, le=1, strict=True)


class MatchFound(BaseModel):
    """One candidate for a query: its position in `candidates`, the cosine."""

    candidate: int
    score: float


class MatchResponse(BaseModel):
    """Per query (in order), its matches, best first; an empty list means no match above `min_score`."""

    model: str
    matches: list[list[MatchFound]]


class ClassifyRequest(Strict):
    """`POST /classify`: one text or a list, labelled by the loaded classifier."""

    inputs: Text | Texts


class Prediction(BaseModel):
    """A label and the classifier's probability for it."""

    label: str
    confidence: float


class ClassifyResponse(BaseModel):
    """The label of each input, in order."""

    model: str
    predictions: list[Prediction]


class RerankDocument(BaseModel):
    """A document as an object (Cohere's older shape): its `text`; other fields are ignored."""

    text: Text


class RerankRequest(BaseModel):
    """`POST /v1/rerank` in the shape TEI, Cohere and Jina clients send; unknown extras are ignored."""

    query: Text
    documents: Annotated[list[Text | RerankDocument], Field(min_length=1)]
    top_n: int | None = Field(default=None, gt=0, strict=True)  # the best n (default: all, best first)
    return_documents: StrictBool = False
    model: Str | None = None


class RerankResult(BaseModel):
    """One document's place: its index in the request, the reranker's score, its text if asked."""

    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankResponse(BaseModel):
    """The documents of `POST /v1/rerank`, best first; `meta.truncated`: documents read only in part."""

    model: str
    results: list[RerankResult]
    usage: dict
    meta: dict
