"""A FAISS index of vectors plus the documents they stand for and a manifest saying how it was made.

The index takes vectors, never text: whoever encodes passes the vectors and the model's identity, and the
index refuses vectors of another model. On disk (see `embedlab.index.manifest`) each version's data folder
holds index.faiss and documents.jsonl. Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.index.compressed import compressed_index, matryoshka, open_compressed, save_compressed
from embedlab.index.faiss_build import (
    TARGET_RECALL,
    PQSettings,
    Reranked,
    _set_search_effort,
    build_tuned,
)
from embedlab.index.lexical import LexicalIndex
from embedlab.index.manifest import check_model, read_manifest, write_version
from embedlab.io import l2_normalise

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Hit:
    """One search result: the cosine similarity and the stored document (id, text, metadata)."""

    score: float
    document: dict
    row: int = -1  # position in the index (for fusion with the BM25 side)


class DocumentIndex:
    """Vectors in a FAISS index (or a Milvus collection, `milvus=`), with their documents and a manifest
    (model identity, kind, count).

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
        self.committed = len(documents)  # rows already saved (Milvus appends after them)

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
        milvus: dict | None = None,
        pq: PQSettings = PQSettings(),
        vectors_precision: str = "float",
        dims: int | None = None,
    ) -> DocumentIndex:
        """An index of `documents` from their `vectors` (row i embeds documents[i]) made by `model`; with
        `bm25`, a BM25 index of their texts beside it (hybrid search). `extra` goes into the manifest.
        `milvus={"uri": ..., "collection": ...}` keeps the vectors in Milvus instead of FAISS; `pq` sets the
        code size and OPQ rotation of kind `ivfpq`. `vectors_precision="int8"` or `"binary"` keeps compressed
        codes in memory and rescores their candidates with vectors memory-mapped from disk (kind flat);
        `dims` keeps the first `dims` of each vector (Matryoshka), queries are cut to match.
        """
        _check_rows(vectors, documents)
        if not 0 < target_recall <= 1:
            raise EmbedlabError(f"target_recall is {target_recall:g}; it must be in (0, 1]")
        truncated_from = int(vectors.shape[1]) if dims is not None else None
        vectors = matryoshka(vectors, dims)
        index: object
        if vectors_precision != "float":
            if kind != "flat" or milvus is not None:
                raise EmbedlabError(
                    f"vectors_precision={vectors_precision!r} is an exact search over compressed codes in "
                    f"FAISS: kind='flat' (not {kind!r}) and no milvus"
                )
            index, parameters = compressed_index(
                vectors_precision, l2_normalise(vectors), target_recall=target_recall
            )
            order = np.arange(len(vectors))
        elif milvus is not None:
            from embedlab.index.milvus_index import MilvusVectors

            stored = MilvusVectors(milvus["uri"], milvus["collection"], int(vectors.shape[1]), kind)
            stored.add(l2_normalise(vectors))
            index, order = stored, np.arange(len(vectors))
            parameters = {"store": "milvus", "uri": stored.uri, "collection": stored.collection}
        else:
            normalised = l2_normalise(vectors)
            index, parameters, order = build_tuned(kind, normalised, target_recall=target_recall, pq=pq)
        manifest = {
            "model": model,
            "dim": int(vectors.shape[1]),
            "normalized": True,
            "metric": "cosine (inner product of normalised vectors)",
            "kind": kind,
            "count": len(documents),
            "documents": _distinct_documents(documents),
            "bm25": bm25,
            **({"dims": int(vectors.shape[1]), "truncated_from": truncated_from} if truncated_from else {}),
            **parameters,
            **(extra or {}),
        }
        ordered = [documents[i] for i in order]
        built = cls(
            index, ordered, manifest, LexicalIndex.build([d["text"] for d in ordered]) if bm25 else None
        )
        built.committed = 0  # nothing saved yet
        return built

    def check_model(self, identity: dict | None, dim: int, where: str | Path = "") -> None:
        """Raise unless vectors of this model (identity and width) belong in this index."""
        check_model(self.manifest, identity, dim, where or "in use")

    def check_new_ids(self, documents: list[dict]) -> None:
        """Raise if any document's id is already in the index."""
        known = {d["id"] for d in self.documents}
        clashes = [d["id"] for d in documents if d["id"] in known]
        if clashes:
            raise EmbedlabError(f"{len(clashes)} ids are already in the index, e.g. {clashes[0]!r}")

    def fit_width(self, vectors: np.ndarray) -> np.ndarray:
        """The model's vectors as this index holds them: cut to its first dims (and normalised again) when it
        was built with `dims`; any other width is left for `search` / `add` to refuse.

        Example::

            index.fit_width(encoder.encode(["graph colouring"])).shape  # (1, 128) for a dims=128 index
        """
        if vectors.ndim == 2 and vectors.shape[1] == self.manifest.get("truncated_from"):
            return matryoshka(vectors, self.manifest["dim"])
        return vectors

    def add(self, vectors: np.ndarray, documents: list[dict]) -> None:
        """Append documents and their vectors; ids must be new."""
        _check_rows(vectors, documents)
        vectors = self.fit_width(vectors)
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
            cut = self.manifest.get("truncated_from")
            hint = (
                f" (it keeps the first {self.manifest['dim']} of {cut}: index.fit_width(vectors) cuts them)"
            )
            raise EmbedlabError(
                f"query vectors of shape {vectors.shape} for a {self.manifest['dim']}-d index"
                + (hint if cut else "")
            )
        if not self.documents:
            return [[] for _ in range(len(vectors))]
        scores, positions = self.index.search(l2_normalise(vectors), min(k, len(self.documents)))
        return [
            [
                Hit(float(s), self.documents[p], int(p))
                for s, p in zip(row_scores, row_positions, strict=True)
                if 0 <= p < len(self.documents)  # Milvus may hold rows of an unfinished write
            ]
            for row_scores, row_positions in zip(scores, positions, strict=True)
        ]

    def vectors_of(self, rows: list[int]) -> np.ndarray:
        """The stored (unit) vectors of these rows, read back from FAISS.

        Example::

            index.vectors_of([0, 1]).shape  # (2, dim)
        """
        import faiss

        if self.manifest.get("kind") == "ivf" and self.manifest.get("store") != "milvus":
            faiss.extract_index_ivf(self.index).make_direct_map()  # IVF lists need a map to read rows back
        return np.stack([self.index.reconstruct(int(row)) for row in rows])

    def save(self, directory: str | Path) -> Path:
        """Write a new version into `directory` (the caller holds its writer lock; see `index.store`)."""
        import faiss

        if self.manifest.get("store") == "milvus":
            from embedlab.index.milvus_index import stored_uri

            self.manifest["uri"] = stored_uri(self.index.uri, directory)

        def write_data(folder: Path) -> None:
            if self.manifest.get("store") == "milvus":
                self._commit_to_milvus(Path(directory))
            elif self.manifest.get("vectors", "float") != "float":
                save_compressed(self.index, folder)
            elif isinstance(self.index, Reranked):  # codes in FAISS, full vectors beside them
                faiss.write_index(self.index.index, str(folder / "index.faiss"))
                np.save(folder / "vectors.f16.npy", np.asarray(self.index.vectors))
            else:
                faiss.write_index(self.index, str(folder / "index.faiss"))
            if self.lexical is not None:
                self.lexical.save(folder)
            with (folder / "documents.jsonl").open("w", encoding="utf-8") as handle:
                for document in self.documents:
                    handle.write(json.dumps(document, ensure_ascii=False) + "\n")

        self.manifest = write_version(Path(directory), write_data, self.manifest)
        self.committed = len(self.documents)
        return Path(directory)

    def _commit_to_milvus(self, directory: Path) -> None:
        """A new index makes its collection (replacing only the one this folder's index made before); an
        index that grew appends its new rows after the committed ones.
        """
        from embedlab.index.milvus_index import opened_uri

        if self.committed == 0:
            previous = read_manifest(directory) if (directory / MANIFEST).is_file() else {}
            where = opened_uri(previous["uri"], directory) if previous.get("uri") else None
            ours = (where, previous.get("collection")) == (self.index.uri, self.index.collection)
            self.index.create(replace=ours)
        self.index.commit(self.committed)

    @classmethod
    def load(cls, directory: str | Path) -> DocumentIndex:
        """The last complete version in `directory`; a writer saving meanwhile does not disturb it."""
        directory = Path(directory)
        for _attempt in range(3):
            manifest = read_manifest(directory)
            data = directory / manifest["data"]
            if data.is_dir() or read_manifest(directory)["data"] == manifest["data"]:
                break  # else a writer committed a newer version between our two reads: take that one
        documents = _read_documents(data / "documents.jsonl")
        index = _open_vectors(manifest, data)
        if index.ntotal < len(documents) or (index.ntotal > len(documents) and not manifest.get("store")):
            raise EmbedlabError(
                f"{data}: the index holds {index.ntotal} vectors but {len(documents)} documents; rebuild it"
            )
        if index.d != manifest["dim"]:
            raise EmbedlabError(
                f"{data}: the index holds {index.ntotal} {index.d}-d vectors but {len(documents)} documents "
                f"and the manifest says {manifest['dim']}-d; rebuild the index"
            )
        if manifest.get("kind") in ("ivf", "hnsw", "ivfpq") and not manifest.get("store"):
            _set_search_effort(index, manifest["kind"], manifest.get("nprobe", manifest.get("ef_search", 64)))
        lexical = LexicalIndex.load(data, len(documents)) if manifest.get("bm25") else None
        return cls(index, documents, manifest, lexical)


def _distinct_documents(rows: list[dict]) -> int:
    """Rows are chunks of documents (`doc_id`) or whole documents."""
    return len({row.get("doc_id", row["id"]) for row in rows})


def _check_rows(vectors: np.ndarray, documents: list[dict]) -> None:
    if vectors.ndim != 2 or len(vectors) != len(documents):
        raise EmbedlabError(f"{len(documents)} documents but vectors of shape {vectors.shape}")


def _open_vectors(manifest: dict, data: Path):
    if manifest.get("store") == "milvus":
        from embedlab.index.milvus_index import MilvusVectors, opened_uri

        uri = opened_uri(manifest["uri"], data.parent)  # a copied index opens its own Lite file
        return MilvusVectors(uri, manifest["collection"], manifest["dim"], manifest["kind"])
    if manifest.get("vectors", "float") != "float":  # codes in memory, rescoring vectors memory-mapped
        return open_compressed(manifest, data)
    if manifest.get("kind") == "ivfpq":  # the full vectors stay on disk; re-ranking reads its candidates
        full = np.load(data / "vectors.f16.npy", mmap_mode="r")
        return Reranked(_read_faiss(data / "index.faiss"), full, manifest.get("rerank_depth", 100))
    return _read_faiss(data / "index.faiss")


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
