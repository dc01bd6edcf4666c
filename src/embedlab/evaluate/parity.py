"""How close an exported model is to its torch original: cosine of their embeddings on real sentences,
and STS-B test Spearman of each, for `embedlab export onnx` and `bench speed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.io import l2_normalise


@dataclass(frozen=True)
class ParityRow:
    """How one exported ONNX file compares with the torch model it came from.

    Example::

        rows = parity_report("runs/minilm")
        rows[0].mean_cosine, rows[0].stsb_spearman
    """

    file: str
    size_mb: float
    mean_cosine: float  # against the torch model, on real sentences
    min_cosine: float
    stsb_spearman: float | None


def parity_report(
    model_dir: str | Path, files: list[str], sentences: list[str], stsb: bool = True
) -> list[ParityRow]:
    """Cosine of each ONNX file's embeddings to the torch model's, and each file's STS-B test Spearman."""
    from embedlab.runtime.encoder import OnnxEncoder, TorchEncoder

    model_dir = Path(model_dir)
    reference = TorchEncoder(model_dir, bf16=False).encode(sentences)  # the fp32 reference
    rows = []
    for file_name in files:
        encoder = OnnxEncoder(model_dir, file_name)
        mean, least = cosine_to(encoder.encode(sentences), reference)
        spearman = stsb_spearman(encoder) if stsb else None
        size = (model_dir / file_name).stat().st_size / 1e6
        rows.append(ParityRow(file_name, round(size, 1), mean, least, spearman))
    return rows


@dataclass(frozen=True)
class RerankerParityRow:
    """How one exported reranker file scores pairs next to the torch CrossEncoder it came from.

    Example::

        rows = reranker_parity("runs/reranker/model", ["onnx/model_qint8_per_channel.onnx"], pairs)
        rows[0].max_difference, rows[0].spearman
    """

    file: str
    size_mb: float
    max_difference: float  # largest |score − torch score| over the pairs
    spearman: float  # rank correlation (×100) of its scores with torch's: does it order pairs the same way


def reranker_parity(
    model_dir: str | Path, files: list[str], pairs: list[tuple[str, str]]
) -> list[RerankerParityRow]:
    """Each exported reranker file's scores of `pairs` against the torch CrossEncoder's (fp32).

    Example::

        reranker_parity("runs/reranker/model", ["onnx/model.onnx"], [("a query", "a document")])
    """
    from scipy.stats import spearmanr

    from embedlab.models.cross_encoder import load_cross_encoder, score_pairs
    from embedlab.runtime.reranker import OnnxReranker

    model_dir = Path(model_dir)
    reference = score_pairs(pairs, load_cross_encoder(model_dir, device="cpu"), batch_size=32)
    rows = []
    for file_name in files:
        scores = OnnxReranker(model_dir, file_name).predict(pairs)
        rho = float(spearmanr(scores, reference).statistic) * 100 if len(pairs) > 1 else 100.0
        size = (model_dir / file_name).stat().st_size / 1e6
        rows.append(
            RerankerParityRow(file_name, round(size, 1), float(np.abs(scores - reference).max()), rho)
        )
    return rows


def cosine_to(vectors: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean and minimum cosine between each row of `vectors` and the same row of `reference`.

    Example::

        cosine_to(int8.encode(texts), torch_model.encode(texts))  # (0.9936, 0.9889)
    """
    cosine = (l2_normalise(vectors) * l2_normalise(reference)).sum(1)
    return float(cosine.mean()), float(cosine.min())


def stsb_spearman(encoder, split: str = "test") -> float:
    """STS-B Spearman (×100) of any encoder with `encode(texts, batch_size)`, on `split` (test or dev).

    Example::

        stsb_spearman(load_encoder("runs/minilm", "onnx-int8"))  # 81.7
    """
    from embedlab.data.sts import load_sts
    from embedlab.evaluate.sts import SPEARMAN, evaluate_pairs

    records = evaluate_pairs(
        EncoderAdapter(encoder), {("stsb", split): load_sts("stsb", split)}, show_progress=False
    )
    return next(r.value for r in records if r.metric == SPEARMAN)


class EncoderAdapter:
    """Gives any Encoder the `encode(...)` signature the STS evaluation calls."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder

    def encode(self, texts, batch_size: int = 32, **_: object) -> np.ndarray:
        """Encode through the wrapped encoder (sentence-transformers' evaluator calls this)."""
        return self.encoder.encode(list(texts), batch_size=batch_size)
