"""Rerankers: sentence-transformers `CrossEncoder` folders, which read a query and a document together and
score how well the document answers it. A folder's kind (cross-encoder or embedding model) is what its
`config_sentence_transformers.json` says, so a reranker given where an embedding model belongs (or the
other way round) is one line, not a wrong result.

    scores = rerank("graph colouring", ["four colour theorem", "stock prices"], "runs/reranker/model")
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedlab.errors import EmbedlabError, ModelError
from embedlab.models.registry import resolve

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

RERANK_DEPTH = 50  # candidates per query: the usual second stage (TEI's and Cohere's examples use 50–100)
CROSS_ENCODER = "cross-encoder"
EMBEDDING = "embedding model"
MAKE_ONE = "embedlab train configs/reranker-arxiv-minilm.yaml makes one"


def check_rerank_depth(depth: int) -> None:
    """Refuse a rerank depth below 1 (there would be nothing to reorder), naming the parameter.

    Example::

        check_rerank_depth(0)  # EmbedlabError: rerank_depth=0: give 1 or more candidates to rerank
    """
    if depth < 1:
        raise EmbedlabError(f"rerank_depth={depth}: give 1 or more candidates to rerank")


def model_kind(model: str | Path) -> str | None:
    """'cross-encoder', 'embedding model', or None when the folder is not on disk (a hub id).

    Example::

        model_kind("all-MiniLM-L6-v2")  # "embedding model"
    """
    folder = Path(resolve(model))
    settings = folder / "config_sentence_transformers.json"
    if settings.is_file():
        try:
            kind = json.loads(settings.read_text(encoding="utf-8")).get("model_type")
        except ValueError:
            kind = None
        return CROSS_ENCODER if kind == "CrossEncoder" else EMBEDDING
    if (folder / "modules.json").is_file():
        return EMBEDDING
    return None


def check_reranker(model: str | Path, parameter: str = "reranker") -> None:
    """Refuse an embedding model where a reranker belongs, naming the parameter and what it is.

    Example::

        check_reranker("all-MiniLM-L6-v2")  # ModelError: ... is an embedding model, not a reranker ...
    """
    if model_kind(model) == EMBEDDING:
        raise ModelError(
            f"{parameter}={str(model)!r} is an embedding model (a bi-encoder), not a reranker: give a "
            f"CrossEncoder folder ({MAKE_ONE})"
        )


def check_embedding_model(model: str | Path, parameter: str = "model") -> None:
    """Refuse a reranker where an embedding model belongs (it makes no vectors).

    Example::

        check_embedding_model("runs/reranker/model")  # ModelError: ... is a reranker (a cross-encoder) ...
    """
    if model_kind(model) == CROSS_ENCODER:
        raise ModelError(
            f"{parameter}={str(model)!r} is a reranker (a cross-encoder): it scores (query, document) "
            "pairs and makes no vectors; give an embedding model here and the reranker as reranker="
        )


@contextmanager
def quiet_loading():
    """Silence transformers' load report (a freshly made classifier head is expected when a reranker starts
    from an embedding model) and sentence-transformers' "Converting ..." line are not the user's business.
    """
    import transformers

    level = transformers.logging.get_verbosity()
    library = logging.getLogger("sentence_transformers")
    kept = library.level
    transformers.logging.set_verbosity_error()
    library.setLevel(logging.ERROR)
    try:
        yield
    finally:
        transformers.logging.set_verbosity(level)
        library.setLevel(kept)


def load_cross_encoder(
    model: str | Path, *, max_length: int | None = None, device: str | None = None, start: bool = False
) -> CrossEncoder:
    """A reranker folder (or hub id) as a `CrossEncoder`. With `start`, an embedding model is accepted too:
    its transformer with a new one-output head, the start of a reranker's training.

    Example::

        reranker = load_cross_encoder("runs/reranker-arxiv-minilm/model")
        reranker.predict([("a query", "a document")])
    """
    try:
        from sentence_transformers import CrossEncoder
    except ImportError:
        raise ModelError(
            'a reranker runs on torch and sentence-transformers: pip install "embedlab[train]"'
        ) from None

    from embedlab.hardware import resolve_device

    if not start:
        check_reranker(model)
    try:
        with quiet_loading():
            return CrossEncoder(
                resolve(model), num_labels=1, max_length=max_length, device=resolve_device(device)
            )
    except OSError as error:
        raise ModelError(f"cannot load reranker '{model}': {str(error).splitlines()[0]}") from None


@functools.lru_cache(maxsize=4)
def _loaded(model: str) -> CrossEncoder:
    return load_cross_encoder(model)


def rerank(
    query: str, documents: Sequence[str], model: str | Path | CrossEncoder, *, batch_size: int = 32
) -> np.ndarray:
    """The reranker's score of each document for `query` (higher is better; a probability for a model
    trained with BCE), in the documents' order. `model`: a folder or name (loaded once and kept), or a
    `CrossEncoder`.

    Example::

        scores = rerank("graph colouring", ["four colour theorem", "stock prices"], "runs/reranker/model")
        order = scores.argsort()[::-1]
    """
    reranker = _loaded(str(model)) if isinstance(model, (str, Path)) else model
    return score_pairs([(query, document) for document in documents], reranker, batch_size=batch_size)


def score_pairs(
    pairs: Sequence[tuple[str, str]], model: CrossEncoder, *, batch_size: int = 32, show: bool = False
) -> np.ndarray:
    """The reranker's scores of many (query, document) pairs at once: what evaluation reranks with.

    Example::

        score_pairs([("q", "d1"), ("q", "d2")], load_cross_encoder("runs/reranker/model"))
    """
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    scores = model.predict(list(pairs), batch_size=batch_size, show_progress_bar=show, convert_to_numpy=True)
    return np.asarray(scores, dtype=np.float32).reshape(len(pairs))
