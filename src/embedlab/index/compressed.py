"""Compressed vectors: the candidates found with 1 bit a dimension (binary codes, FAISS's Hamming search) or
1 byte (int8, FAISS's 8-bit scalar quantizer), then rescored with better vectors kept on disk and
memory-mapped, not in RAM — int8 for binary (sentence-transformers' recipe: ~32× less memory), float16 for
int8. And Matryoshka truncation: the first `dims` of each vector, normalised again.

The codes are `embedlab.codes`' (sentence-transformers' `quantize_embeddings` in numpy: the index runs
without torch).

    index = DocumentIndex.build(vectors, documents, model=identity, vectors_precision="binary")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedlab.codes import from_int8, int8_ranges, to_int8, ubinary
from embedlab.errors import EmbedlabError
from embedlab.index.faiss_build import TARGET_RECALL, Reranked, WrappedIndex

PRECISIONS = ("float", "int8", "binary")
RESCORE_MULTIPLIER = 4  # candidates rescored per wanted result (sentence-transformers' examples use 4)
MAX_MULTIPLIER = 256  # where tuning stops doubling: 2,560 rescored rows for k=10
INT8_CODES = "vectors.i8.npy"  # binary: the int8 vectors candidates are rescored with
INT8_RANGES = "ranges.npy"  # their calibrated per-dimension (min, max)


class Int8Vectors:
    """int8 codes (memory-mapped from disk, or grown in memory) read back as float32 rows: what binary
    candidates are rescored against.

    Example::

        stored = Int8Vectors(np.load("vectors.i8.npy", mmap_mode="r"), np.load("ranges.npy"))
        stored[[3, 7]].shape  # (2, dim), float32
    """

    def __init__(self, codes: np.ndarray, ranges: np.ndarray) -> None:
        self.codes, self.ranges = codes, ranges

    def __getitem__(self, rows) -> np.ndarray:
        return from_int8(np.asarray(self.codes[rows]), self.ranges)

    def __len__(self) -> int:
        return len(self.codes)

    def append(self, vectors: np.ndarray) -> Int8Vectors:
        """These codes and those of `vectors` (in the same ranges: a later addition is not recalibrated)."""
        return Int8Vectors(
            np.concatenate([np.asarray(self.codes), to_int8(vectors, self.ranges)]), self.ranges
        )

    def save(self, folder: Path) -> None:
        """The codes and their ranges into `folder` (a new index version, renamed into place when whole)."""
        np.save(folder / INT8_CODES, np.asarray(self.codes))
        np.save(folder / INT8_RANGES, self.ranges)


class BinaryCandidates(WrappedIndex):
    """A FAISS binary index (Hamming distance over sign bits; `d` counts bits, one a dimension) that takes
    float vectors like any index.

    Example::

        candidates = BinaryCandidates(faiss.IndexBinaryFlat(384))
        candidates.add(vectors)
        scores, rows = candidates.search(queries, 40)  # scores: minus the Hamming distance
    """

    def __init__(self, index) -> None:
        self.index = index

    def add(self, vectors: np.ndarray) -> None:
        """Add the sign bits of `vectors`."""
        if len(vectors):
            self.index.add(ubinary(vectors))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) as FAISS gives them; the scores are minus the Hamming distances."""
        distances, rows = self.index.search(ubinary(queries), k)
        return -distances.astype(np.float32), rows


def check_binary_width(dim: int) -> None:
    """Binary codes pack 8 dimensions a byte: a width that is not a multiple of 8 is one line."""
    if dim % 8:
        raise EmbedlabError(
            f"vectors_precision='binary' packs 8 dimensions a byte; this model's vectors are {dim}-d "
            "(not a multiple of 8): use 'int8' or 'float', or truncate with dims= to a multiple of 8"
        )


def check_compression(precision: str, dims: int | None, width: int) -> None:
    """Refuse, before any encoding, settings the model's `width` cannot take: `dims` above it, binary codes of
    a width that is not a multiple of 8, an unknown precision.

    Example::

        check_compression("binary", 128, encoder.dim)
    """
    if precision not in PRECISIONS:
        raise EmbedlabError(f"vectors_precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
    if dims is not None and not 0 < dims <= width:
        raise EmbedlabError(f"dims={dims}: this model's vectors are {width}-d; give 1 to {width}")
    if precision == "binary":
        check_binary_width(dims or width)


def matryoshka(vectors: np.ndarray, dims: int | None) -> np.ndarray:
    """The first `dims` of each vector, normalised again (all of them when `dims` is None).

    Example::

        matryoshka(vectors_384, 128).shape  # (n, 128), unit length
    """
    from embedlab.io import l2_normalise

    if dims is None:
        return vectors
    check_compression("float", dims, vectors.shape[1])
    return l2_normalise(np.ascontiguousarray(vectors[:, :dims]))


def read_rescoring(data: Path, manifest: dict) -> np.ndarray | Int8Vectors:
    """The memory-mapped vectors a compressed index rescores with, checked against the manifest (rows and
    width): a missing, cut or foreign file is one line, not a wrong answer.
    """
    precision = manifest.get("vectors", "float")
    name = INT8_CODES if precision == "binary" else "vectors.f16.npy"
    try:
        stored = np.load(data / name, mmap_mode="r")
        ranges = np.load(data / INT8_RANGES) if precision == "binary" else None
    except (OSError, ValueError) as error:
        raise EmbedlabError(f"{data / name}: unreadable ({error}); rebuild the index") from None
    if stored.ndim != 2 or stored.shape[1] != manifest["dim"] or len(stored) < manifest["count"]:
        raise EmbedlabError(
            f"{data / name} holds {stored.shape} vectors but the manifest says {manifest['count']} of "
            f"{manifest['dim']} dims; rebuild the index"
        )
    if ranges is not None:
        if ranges.shape != (2, manifest["dim"]):
            raise EmbedlabError(f"{data / INT8_RANGES}: ranges of shape {ranges.shape}; rebuild the index")
        return Int8Vectors(stored, ranges)
    return stored


def compressed_index(precision: str, vectors: np.ndarray, *, target_recall: float = TARGET_RECALL):
    """An exact index over compressed codes of unit `vectors`, rescoring its candidates: binary codes
    (Hamming) rescored with int8 vectors, or int8 codes (FAISS's 8-bit scalar quantizer) rescored with
    float16 vectors. How many candidates a result rescores (`rescore_multiplier`, from 4, doubling) is tuned
    on the documents' own vectors to reach `target_recall` at 10 against exact float search — how much the
    codes lose depends on the data, as HNSW's effort does. Returns the index and its manifest entries.

    Example::

        index, parameters = compressed_index("binary", l2_normalise(vectors))
        scores, rows = index.search(queries, 10)
    """
    import faiss

    dim = vectors.shape[1]
    if precision == "binary":
        check_binary_width(dim)
        candidates: object = BinaryCandidates(faiss.IndexBinaryFlat(dim))
        ranges = int8_ranges(vectors) if len(vectors) else np.vstack([-np.ones(dim), np.ones(dim)])
        stored: object = Int8Vectors(np.empty((0, dim), dtype=np.int8), ranges.astype(np.float32))
    elif precision == "int8":
        candidates = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        candidates.train(vectors)  # the per-dimension ranges, from the corpus itself
        stored = np.empty((0, dim), dtype=np.float16)
    else:
        raise EmbedlabError(f"vectors_precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
    index = Reranked(candidates, stored, depth=0, multiplier=RESCORE_MULTIPLIER)
    index.add(vectors)
    rescored_with = "int8" if precision == "binary" else "float16"
    return index, {
        "vectors": precision,
        "rescore": rescored_with,
        **tune_multiplier(index, vectors, target_recall),
    }


def tune_multiplier(index: Reranked, vectors: np.ndarray, target_recall: float, k: int = 10) -> dict:
    """The least rescore multiplier (doubling from 4) at which `index` finds the exact top `k` of up to 200
    of its own documents (each query's own row left out of both lists) with `target_recall`; sets it.

    Example::

        tune_multiplier(index, vectors, 0.95)  # {"rescore_multiplier": 8, "tuned_recall_at_10": 0.962, ...}
    """
    import faiss

    queries = min(200, len(vectors) // 10)
    if queries == 0 or len(vectors) <= k + 1:
        return {"rescore_multiplier": index.multiplier}
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), size=queries, replace=False))
    truth = faiss.knn(vectors[rows], vectors, k + 1, metric=faiss.METRIC_INNER_PRODUCT)[1]
    right = [set(found) - {row} for found, row in zip(truth, rows, strict=True)]
    multiplier, recall = RESCORE_MULTIPLIER, 0.0
    while True:
        index.multiplier = multiplier
        found = index.search(vectors[rows], k + 1)[1]
        recall = float(np.mean([len((set(f) - {r}) & t) / max(len(t), 1)
                                for f, r, t in zip(found, rows, right, strict=True)]))  # fmt: skip
        if recall >= target_recall or multiplier >= MAX_MULTIPLIER:
            break
        multiplier *= 2
    return {
        "rescore_multiplier": multiplier,
        "tuned_recall_at_10": round(recall, 4),
        "target_recall": target_recall,
    }


def open_compressed(manifest: dict, data: Path):
    """A saved compressed index: its codes in memory, the vectors it rescores with memory-mapped."""
    import faiss

    path = data / "index.faiss"
    if not path.is_file():
        raise EmbedlabError(
            f"{path} is missing; the index is damaged: rebuild it with `embedlab index build --force`"
        )
    try:
        read = faiss.read_index_binary if manifest["vectors"] == "binary" else faiss.read_index
        codes = read(str(path))
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1][:120]
        raise EmbedlabError(f"{path}: not a readable FAISS index ({reason}); rebuild the index") from None
    candidates = BinaryCandidates(codes) if manifest["vectors"] == "binary" else codes
    multiplier = manifest.get("rescore_multiplier", RESCORE_MULTIPLIER)
    return Reranked(candidates, read_rescoring(data, manifest), depth=0, multiplier=multiplier)


def save_compressed(index, folder: Path) -> None:
    """The codes and the rescoring vectors of a compressed index into `folder` (a new version)."""
    import faiss

    if isinstance(index.index, BinaryCandidates):
        faiss.write_index_binary(index.index.index, str(folder / "index.faiss"))
        index.vectors.save(folder)
    else:
        faiss.write_index(index.index, str(folder / "index.faiss"))
        np.save(folder / "vectors.f16.npy", np.asarray(index.vectors))
