"""Request and response bodies. Wrong types are rejected by FastAPI with 422 before any handler runs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints


def _encodable(text: str) -> str:
    """A JSON string may hold a lone surrogate (`"\\ud800"`): no tokenizer takes it, no response echoes it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode (it holds a lone surrogate)") from None
    return text


Str = Annotated[str, AfterValidator(_encodable)]
# The schema says what a usable text is, so clients (and schema-driven fuzzers) see it: not blank.
Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S"), AfterValidator(_encodable)]
Texts = Annotated[list[Text], Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbedRequest(Strict):
    inputs: Text | Texts
    normalize: StrictBool = True


class EmbedResponse(BaseModel):
    model: str
    dim: int
    embeddings: list[list[float]]


class SimilarityRequest(Strict):
    source: Text
    targets: Texts


class SimilarityResponse(BaseModel):
    model: str
    scores: list[float]  # cosine similarity of the source to each target, in order


class SearchRequest(Strict):
    query: Text
    k: int = Field(default=10, gt=0)


class SearchHit(BaseModel):
    id: str
    score: float
    document: dict


class SearchResponse(BaseModel):
    model: str
    hits: list[SearchHit]


class OpenAIEmbeddingRequest(BaseModel):
    """OpenAI's /v1/embeddings body; `user` and unknown extras are accepted and ignored, as OpenAI does."""

    input: Text | Texts
    model: Str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, gt=0)
    user: Str | None = None


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage
