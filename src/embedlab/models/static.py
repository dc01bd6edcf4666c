"""Static-embedding models distilled from a teacher's vocabulary with model2vec (no corpus needed).

model2vec's folder layout is also a sentence-transformers layout (modules.json → StaticEmbedding,
Normalize), so the saved model loads with `SentenceTransformer(path)` and with
`model2vec.StaticModel.from_pretrained(path)`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.errors import ModelError
from embedlab.io import atomic_dir, check_output_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class StaticResult:
    """A static model made by `make_static_model`: its folder, vocabulary, dimension and build time."""

    path: Path
    vocabulary: int
    dim: int
    seconds: float


def distill_static(
    teacher: str, out: str | Path, *, pca_dims: int | None = 256, force: bool = False
) -> StaticResult:
    """Distil `teacher` (a known name, folder or hub id) into a static model at `out`, written atomically."""
    try:
        from model2vec.distill import distill
    except ImportError as error:
        raise ModelError(
            f"model2vec's distillation is not importable ({error}); "
            "pip install 'model2vec>=0.10' 'skeletoken>=0.6'"
        ) from None
    from embedlab.models.registry import resolve

    out = Path(out)
    check_output_dir(out, kind="model", force=force, inputs=[teacher])
    started = time.perf_counter()
    model = distill(model_name=resolve(teacher), pca_dims=pca_dims)
    seconds = time.perf_counter() - started
    with atomic_dir(out, kind="model") as staging:
        model.save_pretrained(staging)
        (staging / "1_Normalize").mkdir(exist_ok=True)  # named by modules.json; Normalize has no weights
    vocabulary, dim = model.embedding.shape
    return StaticResult(out, int(vocabulary), int(dim), seconds)


def is_static(model: SentenceTransformer) -> bool:
    """True when the model is a static (embedding-table) model.

    Example::

        is_static(SentenceTransformer("runs/static-minilm"))  # True
    """
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    return isinstance(model[0], StaticEmbedding)


def fold_projection(model: SentenceTransformer) -> SentenceTransformer:
    """A static model followed by a linear layer is again a static model: the mean of the tokens' rows
    mapped by (W, b) is the map of their mean, so each row becomes W·row + b and the layer goes. The result
    has the plain model2vec / StaticEmbedding layout.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, StaticEmbedding

    modules = list(model)
    if len(modules) < 2 or not isinstance(modules[1], Dense):
        return model
    static, projection, *rest = modules
    with torch.no_grad():
        rows = static.embedding.weight @ projection.linear.weight.T + projection.linear.bias
    folded = StaticEmbedding(static.tokenizer, embedding_weights=rows.detach().clone())
    return SentenceTransformer(modules=[folded, *rest], device="cpu")
