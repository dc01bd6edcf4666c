"""A FAISS index of vectors plus the documents they stand for and a manifest saying how it was made.

The index takes vectors, never text: whoever encodes passes the vectors and the model's identity, and the
index refuses vectors of another model. On disk (see `embedlab.index.manifest`) each version's data folder
holds index.faiss and documents.jsonl. Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.index.lexical import LexicalIndex
from embedlab.index.manifest import check_model, read_manifest, write_version
from embedlab.io import l2_normalise

KINDS = ("flat", "ivf", "hnsw")
MANIFEST = "manifest.json"
HNSW_M = 32
TARGET_RECALL = 0.95


@dataclass(frozen=True)
class Hit:
    """One search result: the cosine similarity and the stored document (id, text, metadata)."""

    score: float
    document: dict
    row: int = -1  # position in the index (for fusion with the BM25 side)


def _new_faiss_index(kind: str, dim: int, vectors: np.ndarray):
    """An empty index of `kind`, trained on `vectors` where the kind needs it, with its build parameters."""
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim), {}
    if kind == "hnsw":
        return faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT), {"hnsw_m": HNSW_M}
    if kind == "ivf":
        # about 4·sqrt(n) lists, but at least 39 training points per list (FAISS' own minimum)
        nlist = max(1, min(int(4 * math.sqrt(len(vectors))), len(vectors) // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on 64 points per list is enough to place the lists; on all of a million vectors it takes
        # ten times longer for no measurable recall (FAISS itself samples 256 per list)
        sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * nlist), replace=False)
        index.train(vectors[np.sort(sample)])
        return index, {"nlist": nlist}
    raise EmbedlabError(f"unknown index kind '{kind}'; choose one of {', '.join(KINDS)}")


def _set_search_effort(index, kind: str, effort: int) -> None:
    if kind == "ivf":
        index.nprobe = effort
    elif kind == "hnsw":
        index.hnsw.efSearch = effort


def tune_search(
    index,
    kind: str,
    indexed: np.ndarray,
    queries: np.ndarray,
    *,
    target_recall: float = TARGET_RECALL,
    k: int = 10,
) -> dict:
    """The least search effort (IVF nprobe, HNSW efSearch, doubling) whose recall@k against exact search over
    `indexed` (the vectors in `index`) reaches the target for `queries` (vectors *not* in the index).

    Recall depends on the data — clustered real embeddings need far less effort than uniform noise — so the
    effort is tuned on the documents' own vectors. The queries must not be in the index: a query that is a
    node of an HNSW graph finds its neighbours far more easily than a new query does.
    """
    import faiss

    if kind == "flat" or len(queries) == 0:
        return {}
    depth = min(k, len(indexed))
    truth = [set(row) for row in faiss.knn(queries, indexed, depth, metric=faiss.METRIC_INNER_PRODUCT)[1]]
    ceiling = index.nlist if kind == "ivf" else 4096
    effort = 1 if kind == "ivf" else 16
    while True:
        _set_search_effort(index, kind, effort)
        found = index.search(queries, depth)[1]
        recall = float(
            np.mean([len(set(row) & right) / len(right) for row, right in zip(found, truth, strict=True)])
        )
        if recall >= target_recall or effort >= ceiling:
            break
        effort = min(effort * 2, ceiling)
    name = "nprobe" if kind == "ivf" else "ef_search"
    return {name: effort, "tuned_recall_at_10": round(recall, 4), "target_recall": target_recall}


def build_tuned(
    kind: str, vectors: np.ndarray, *, target_recall: float = TARGET_RECALL, samples: int = 200, seed: int = 0
) -> tuple[object, dict, np.ndarray]:
    """A filled index of `kind` with its search effort tuned, and the order its rows were added in.

    Up to `samples` vectors (at most a tenth) are held out, the rest indexed, the effort tuned with the
    held-out ones as queries, and then they are added too — so the returned order puts them last.
    """
    order = np.arange(len(vectors))
    held = min(samples, len(vectors) // 10) if kind != "flat" else 0
    if held:
        picked = np.random.default_rng(seed).choice(len(vectors), size=held, replace=False)
        order = np.concatenate([np.setdiff1d(order, picked), np.sort(picked)])
    vectors = vectors[order]
    index, parameters = _new_faiss_index(kind, vectors.shape[1], vectors)
    index.add(vectors[: len(vectors) - held])
    parameters.update(
        tune_search(
            index,
            kind,
            vectors[: len(vectors) - held],
            vectors[len(vectors) - held :],
            target_recall=target_recall,
        )
    )
    if held:
        index.add(vectors[len(vectors) - held :])
    return index, parameters, order


class DocumentIndex:
    """Vectors in a FAISS index, with their documents and a manifest (model identity, kind, count).

    Example::

        encoder = load_encoder("all-MiniLM-L6-v2")
        docs = [{"id": "a", "text": "A man plays a guitar."}, {"id": "b", "text": "A dog runs."}]
        index = DocumentIndex.build(encoder.encode([d["text"] for d in docs]), docs, model=encoder.identity)
        (hits,) = index.search(encoder.encode(["guitar music"]), k=1)  # hits[0].document["id"] == "a"
    """

    def __init__(
        self, index, documents: list[dict], manifest: dict, lexical: LexicalIndex | None = None
    ) -> None:
        self.index = index
        self.documents = documents
        self.manifest = manifest
        self.lexical = lexical  # the BM25 side, when the index was built with one

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        documents: list[dict],
        *,
        model: dict | str,
        kind: str = "flat",
        target_recall: float = TARGET_RECALL,
        bm25: bool = False,
        extra: dict | None = None,
    ) -> DocumentIndex:
        """An index of `documents` from their `vectors` (row i embeds documents[i]) made by `model`; with
        `bm25`, a BM25 index of their texts beside it (hybrid search). `extra` goes into the manifest.
        """
        _check_rows(vectors, documents)
        if not 0 < target_recall <= 1:
            raise EmbedlabError(f"--target-recall is {target_recall:g}; it must be in (0, 1]")
        index, parameters, order = build_tuned(kind, l2_normalise(vectors), target_recall=target_recall)
        manifest = {
            "model": model,
            "dim": int(vectors.shape[1]),
            "normalized": True,
            "metric": "cosine (inner product of normalised vectors)",
            "kind": kind,
            "count": len(documents),
            "documents": _distinct_documents(documents),
            "bm25": bm25,
            **parameters,
            **(extra or {}),
        }
        ordered = [documents[i] for i in order]
        return cls(
            index, ordered, manifest, LexicalIndex.build([d["text"] for d in ordered]) if bm25 else None
        )

    def check_model(self, identity: dict | None, dim: int, where: str | Path = "") -> None:
        """Raise unless vectors of this model (identity and width) belong in this index."""
        check_model(self.manifest, identity, dim, where or "in use")

    def check_new_ids(self, documents: list[dict]) -> None:
        """Raise if any document's id is already in the index."""
        known = {d["id"] for d in self.documents}
        clashes = [d["id"] for d in documents if d["id"] in known]
        if clashes:
            raise EmbedlabError(f"{len(clashes)} ids are already in the index, e.g. {clashes[0]!r}")

    def add(self, vectors: np.ndarray, documents: list[dict]) -> None:
        """Append documents and their vectors; ids must be new."""
        _check_rows(vectors, documents)
        if vectors.shape[1] != self.manifest["dim"]:
            raise EmbedlabError(
                f"{vectors.shape[1]}-dimensional vectors for a {self.manifest['dim']}-d index"
            )
        self.check_new_ids(documents)
        self.index.add(l2_normalise(vectors))
        self.documents.extend(documents)
        self.manifest["count"] = len(self.documents)
        self.manifest["documents"] = _distinct_documents(self.documents)
        if self.lexical is not None:
            self.lexical = LexicalIndex.build([d["text"] for d in self.documents])

    def search(self, vectors: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """The `k` nearest documents to each query vector, best first."""
        if k < 1:
            raise EmbedlabError(f"-k is {k}; it must be at least 1")
        if vectors.ndim != 2 or vectors.shape[1] != self.manifest["dim"]:
            raise EmbedlabError(
                f"query vectors of shape {vectors.shape} for a {self.manifest['dim']}-d index"
            )
        if not self.documents:
            return [[] for _ in range(len(vectors))]
        scores, positions = self.index.search(l2_normalise(vectors), min(k, len(self.documents)))
        return [
            [
                Hit(float(s), self.documents[p], int(p))
                for s, p in zip(row_scores, row_positions, strict=True)
                if p >= 0
            ]
            for row_scores, row_positions in zip(scores, positions, strict=True)
        ]

    def vectors_of(self, rows: list[int]) -> np.ndarray:
        """The stored (unit) vectors of these rows, read back from FAISS.

        Example::

            index.vectors_of([0, 1]).shape  # (2, dim)
        """
        import faiss

        if self.manifest.get("kind") == "ivf":
            faiss.extract_index_ivf(self.index).make_direct_map()  # IVF lists need a map to read rows back
        return np.stack([self.index.reconstruct(int(row)) for row in rows])

    def save(self, directory: str | Path) -> Path:
        """Write a new version into `directory` (the caller holds its writer lock; see `index.store`)."""
        import faiss

        def write_data(folder: Path) -> None:
            faiss.write_index(self.index, str(folder / "index.faiss"))
            if self.lexical is not None:
                self.lexical.save(folder)
            with (folder / "documents.jsonl").open("w", encoding="utf-8") as handle:
                for document in self.documents:
                    handle.write(json.dumps(document, ensure_ascii=False) + "\n")

        self.manifest = write_version(Path(directory), write_data, self.manifest)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> DocumentIndex:
        """The last complete version in `directory`; a writer saving meanwhile does not disturb it."""
        directory = Path(directory)
        for _attempt in range(3):
            manifest = read_manifest(directory)
            data = directory / manifest["data"]
            if data.is_dir() or read_manifest(directory)["data"] == manifest["data"]:
                break  # else a writer committed a newer version between our two reads: take that one
        index = _read_faiss(data / "index.faiss")
        documents = _read_documents(data / "documents.jsonl")
        if index.ntotal != len(documents) or index.d != manifest["dim"]:
            raise EmbedlabError(
                f"{data}: the index holds {index.ntotal} {index.d}-d vectors but {len(documents)} documents "
                f"and the manifest says {manifest['dim']}-d; rebuild the index"
            )
        if manifest.get("kind") in ("ivf", "hnsw"):
            _set_search_effort(index, manifest["kind"], manifest.get("nprobe", manifest.get("ef_search", 64)))
        lexical = LexicalIndex.load(data, len(documents)) if manifest.get("bm25") else None
        return cls(index, documents, manifest, lexical)


def _distinct_documents(rows: list[dict]) -> int:
    """Rows are chunks of documents (`doc_id`) or whole documents."""
    return len({row.get("doc_id", row["id"]) for row in rows})


def _check_rows(vectors: np.ndarray, documents: list[dict]) -> None:
    if vectors.ndim != 2 or len(vectors) != len(documents):
        raise EmbedlabError(f"{len(documents)} documents but vectors of shape {vectors.shape}")


def _read_faiss(path: Path):
    import faiss

    if not path.is_file():
        raise EmbedlabError(
            f"{path} is missing; the index is damaged: rebuild it with `embedlab index build --force`"
        )
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1][:120]
        raise EmbedlabError(f"{path}: not a readable FAISS index ({reason}); rebuild the index") from None


def _read_documents(path: Path) -> list[dict]:
    if not path.is_file():
        raise EmbedlabError(
            f"{path} is missing; the index is damaged: rebuild it with `embedlab index build --force`"
        )
    documents = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise EmbedlabError(
                    f"{path}, line {number}: not JSON ({error.msg}); rebuild the index"
                ) from None
    return documents
