"""Compressed vector codes, exactly sentence-transformers' `quantize_embeddings` ("ubinary": the sign bits
packed 8 to a byte; "int8": per-dimension ranges calibrated on a corpus, 256 buckets) — in numpy, because the
index and the shards are read without torch; checked against that function in the tests. Used by `embed
--vectors` (shards of codes) and by compressed indexes.

    codes = to_int8(vectors, int8_ranges(vectors))
"""

from __future__ import annotations

import numpy as np

CODE_DTYPES = {"float": "float32", "int8": "int8", "binary": "ubinary"}  # precision → the shards' dtype


def ubinary(vectors: np.ndarray) -> np.ndarray:
    """Sign bits packed 8 to a byte: sentence-transformers' "ubinary" precision.

    Example::

        ubinary(np.array([[0.3, -0.1, 0.2, 0.0, 1, 1, 1, 1]]))  # [[0b10101111]] = [[175]]
    """
    return np.packbits(np.asarray(vectors) > 0, axis=-1)


def int8_ranges(vectors: np.ndarray) -> np.ndarray:
    """Per-dimension (min, max) of the calibration vectors, shape (2, dim).

    Example::

        int8_ranges(corpus_vectors).shape  # (2, 384)
    """
    return np.vstack((vectors.min(axis=0), vectors.max(axis=0))).astype(np.float32)


def _steps(ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = ranges[0].astype(np.float32)
    steps = (ranges[1] - starts) / 255
    return starts, np.where(steps == 0, 1, steps).astype(np.float32)


def to_int8(vectors: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """`vectors` as int8 codes in the calibrated `ranges`: sentence-transformers' "int8" precision.

    Example::

        codes = to_int8(vectors, int8_ranges(vectors))  # int8, same shape
    """
    starts, steps = _steps(ranges)
    return (np.clip(np.floor((vectors - starts) / steps), 0, 255) - 128).astype(np.int8)


def from_int8(codes: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """The vectors int8 `codes` stand for: each code's bucket middle.

    Example::

        from_int8(to_int8(vectors, ranges), ranges)  # within a bucket of `vectors`
    """
    starts, steps = _steps(ranges)
    return (codes.astype(np.float32) + 128.5) * steps + starts


def unpack_binary(codes: np.ndarray, dim: int) -> np.ndarray:
    """Unit vectors of ±1 from packed sign bits: their inner products rank like Hamming distance does, so a
    float index over them searches the binary codes.

    Example::

        unpack_binary(ubinary(vectors), 384)  # (n, 384) float32, each row ±1/√384
    """
    signs = np.unpackbits(np.asarray(codes, dtype=np.uint8), axis=-1)[:, :dim].astype(np.float32) * 2 - 1
    return signs / np.sqrt(dim, dtype=np.float32)
