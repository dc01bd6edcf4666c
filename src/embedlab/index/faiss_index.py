"""A FAISS index plus the documents it points to and a manifest saying how it was made.

On disk, DIR/manifest.json names a data folder (DIR/v1, DIR/v2, ...) holding index.faiss and
documents.jsonl. A save writes a new data folder completely, then replaces the manifest in one atomic
rename, then removes the old folder: a crash at any point leaves a loadable index, the old or the new.
Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedlab.errors import EmbedlabError

if TYPE_CHECKING:
    from embedlab.runtime.encoder import Encoder

KINDS = ("flat", "ivf", "hnsw")
MANIFEST = "manifest.json"
HNSW_M = 32
TARGET_RECALL = 0.95


@dataclass(frozen=True)
class Hit:
    score: float
    document: dict


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


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
        index.train(vectors)
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
    def __init__(self, index, documents: list[dict], manifest: dict) -> None:
        self.index = index
        self.documents = documents
        self.manifest = manifest

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        documents: list[dict],
        *,
        model: str,
        kind: str = "flat",
        batch_size: int = 64,
        target_recall: float = TARGET_RECALL,
    ) -> DocumentIndex:
        vectors = _normalised(encoder.encode([d["text"] for d in documents], batch_size=batch_size))
        index, parameters, order = build_tuned(kind, vectors, target_recall=target_recall)
        documents = [documents[i] for i in order]
        manifest = {
            "format": 1,
            "model": model,
            "dim": int(vectors.shape[1]),
            "normalized": True,
            "metric": "cosine (inner product of normalised vectors)",
            "kind": kind,
            "count": len(documents),
            **parameters,
        }
        return cls(index, list(documents), manifest)

    def check_encoder(self, encoder: Encoder) -> None:
        if encoder.dim != self.manifest["dim"]:
            raise EmbedlabError(
                f"the model gives {encoder.dim}-dimensional vectors but this index holds "
                f"{self.manifest['dim']}-dimensional ones (built with {self.manifest['model']})"
            )

    def add(self, encoder: Encoder, documents: list[dict], batch_size: int = 64) -> None:
        self.check_encoder(encoder)
        known = {d["id"] for d in self.documents}
        clashes = [d["id"] for d in documents if d["id"] in known]
        if clashes:
            raise EmbedlabError(f"{len(clashes)} ids are already in the index, e.g. {clashes[0]!r}")
        self.index.add(_normalised(encoder.encode([d["text"] for d in documents], batch_size=batch_size)))
        self.documents.extend(documents)
        self.manifest["count"] = len(self.documents)

    def search(self, encoder: Encoder, queries: list[str], k: int = 10) -> list[list[Hit]]:
        self.check_encoder(encoder)
        scores, positions = self.index.search(
            _normalised(encoder.encode(queries)), min(k, len(self.documents))
        )
        return [
            [
                Hit(float(s), self.documents[p])
                for s, p in zip(row_scores, row_positions, strict=True)
                if p >= 0
            ]
            for row_scores, row_positions in zip(scores, positions, strict=True)
        ]

    def save(self, directory: str | Path) -> Path:
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        previous = _read_manifest(directory) if (directory / MANIFEST).is_file() else None
        version = int(previous["data"].lstrip("v")) + 1 if previous else 1
        data = directory / f"v{version}"
        if data.exists():
            shutil.rmtree(data)  # left by a crash before its manifest was written
        data.mkdir()
        faiss.write_index(self.index, str(data / "index.faiss"))
        with (data / "documents.jsonl").open("w", encoding="utf-8") as handle:
            for document in self.documents:
                handle.write(json.dumps(document, ensure_ascii=False) + "\n")
        manifest = {**self.manifest, "data": data.name}
        staging = directory / f".{MANIFEST}.tmp"
        staging.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        staging.replace(directory / MANIFEST)  # the commit point
        for stale in directory.glob("v*"):
            if stale.is_dir() and stale.name != data.name:
                shutil.rmtree(stale, ignore_errors=True)
        self.manifest = manifest
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> DocumentIndex:
        import faiss

        directory = Path(directory)
        manifest = _read_manifest(directory)
        data = directory / manifest["data"]
        index = faiss.read_index(str(data / "index.faiss"))
        documents = [
            json.loads(line) for line in (data / "documents.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        if index.ntotal != len(documents):
            raise EmbedlabError(
                f"{directory}: index holds {index.ntotal} vectors but {len(documents)} documents"
            )
        if manifest.get("kind") in ("ivf", "hnsw"):
            _set_search_effort(index, manifest["kind"], manifest.get("nprobe", manifest.get("ef_search", 64)))
        return cls(index, documents, manifest)


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise EmbedlabError(
            f"{directory} holds no index (no {MANIFEST}); build one with `embedlab index build`"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise EmbedlabError(f"{path}: unreadable manifest ({error.msg})") from None
