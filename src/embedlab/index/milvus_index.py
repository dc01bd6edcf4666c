"""Vectors in Milvus instead of a FAISS file: a local file path is an embedded Milvus Lite database (a
laptop, the tests), `http://host:19530` a Milvus server or cluster. The index folder keeps the manifest, the
documents and the BM25 side exactly as for FAISS, so every command and `/search` works unchanged; Milvus
holds the vectors under the row numbers of the documents (int64 primary keys 0..n-1).

Writes follow the folder's rule: vectors go to Milvus while the writer lock is held and the new version is
committed after them; rows a crashed writer left beyond the committed documents are deleted first.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from embedlab.errors import ConfigError, EmbedlabError
from embedlab.io import relative_path

INDEX_TYPES = {
    "flat": ("FLAT", {}),
    "ivf": ("IVF_FLAT", {"nlist": 1024}),
    "hnsw": ("HNSW", {"M": 32, "efConstruction": 200}),
}
SEARCH_PARAMS = {"flat": {}, "ivf": {"nprobe": 64}, "hnsw": {"ef": 128}}
INSERT_BATCH = 5_000


def is_server(uri: str) -> bool:
    """`http(s)://` and `tcp://` URIs are Milvus servers; anything else is a Milvus Lite file."""
    return urlparse(uri).scheme in ("http", "https", "tcp", "grpc")


def stored_uri(uri: str, directory: str | Path) -> str:
    """What an index manifest records: a Milvus Lite file relative to the index folder (a copied or moved
    index opens its own copy), a server's address as it is.

    Example::

        stored_uri("/data/idx/milvus.db", "/data/idx")  # "milvus.db"
    """
    return uri if is_server(uri) else relative_path(uri, directory)


def opened_uri(uri: str, directory: str | Path) -> str:
    """The address to open for a manifest's `uri`: a Lite file's path resolved against the index folder."""
    return uri if is_server(uri) else str((Path(directory) / uri).resolve())


def check_uri(uri: str, timeout: float = 5.0) -> str:
    """A Milvus server that does not answer is one clear error in seconds; a Lite path is made absolute.

    Example::

        check_uri("http://milvus:19530")   # ConfigError if nothing listens there
        check_uri("vectors/milvus.db")     # "/abs/path/vectors/milvus.db"
    """
    if not is_server(uri):
        path = Path(uri).expanduser().resolve()
        if path.suffix != ".db":
            raise ConfigError(f"uri={uri}: a Milvus Lite file must end in .db (or give http://HOST:19530)")
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)
    parsed = urlparse(uri)
    try:
        socket.create_connection(
            (parsed.hostname or "localhost", parsed.port or 19530), timeout=timeout
        ).close()
    except OSError as error:
        raise ConfigError(f"uri={uri}: no Milvus answers there ({error})") from None
    return uri


class MilvusVectors:
    """The FAISS calls `DocumentIndex` makes (add, search, reconstruct, ntotal, d), over a Milvus collection.

    Vectors added are staged in memory and written by `commit`, under the index folder's writer lock.

    Example::

        vectors = MilvusVectors("index/milvus.db", "docs", dim=384, kind="flat")
        vectors.add(unit_vectors)
        vectors.commit(committed_rows=0)
        scores, rows = vectors.search(queries, 10)
    """

    def __init__(self, uri: str, collection: str, dim: int, kind: str = "flat") -> None:
        if kind not in INDEX_TYPES:
            raise EmbedlabError(
                f"unknown index kind '{kind}' for Milvus; choose one of {', '.join(INDEX_TYPES)}"
            )
        self.uri, self.collection, self.d, self.kind = check_uri(uri), collection, dim, kind
        self.staged: list[np.ndarray] = []
        self._client = None
        self._loaded = False

    @property
    def client(self):
        """The connection, opened on first use."""
        if self._client is None:
            from pymilvus import MilvusClient

            self._client = MilvusClient(uri=self.uri)
        return self._client

    @property
    def ntotal(self) -> int:
        """Rows in the collection (committed or not) plus those staged."""
        stored = 0
        if self.client.has_collection(self.collection):
            stored = int(self.client.get_collection_stats(self.collection)["row_count"])
        return stored + sum(len(v) for v in self.staged)

    def add(self, vectors: np.ndarray) -> None:
        """Stage unit vectors; they reach Milvus at `commit`."""
        self.staged.append(np.ascontiguousarray(vectors, dtype=np.float32))

    def create(self, *, replace: bool) -> None:
        """Make the collection; with `replace`, drop the one this index made before (a rebuild)."""
        from pymilvus import DataType, MilvusClient

        if self.client.has_collection(self.collection):
            if not replace:
                raise EmbedlabError(
                    f"Milvus collection '{self.collection}' already exists at {self.uri}; choose another "
                    "collection= (embedlab replaces only the collection of the index it rebuilds)"
                )
            self.client.drop_collection(self.collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.d)
        params = self.client.prepare_index_params()
        index_type, build = INDEX_TYPES[self.kind]
        params.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=build)
        self.client.create_collection(self.collection, schema=schema, index_params=params)

    def commit(self, committed_rows: int) -> None:
        """Write the staged vectors as rows `committed_rows`, `committed_rows + 1`, ... (rows a crashed
        writer left beyond the committed documents are deleted first).
        """
        self.client.delete(self.collection, filter=f"id >= {committed_rows}")
        row = committed_rows
        for block in self.staged:
            for start in range(0, len(block), INSERT_BATCH):
                part = block[start : start + INSERT_BATCH]
                rows = [{"id": row + i, "vector": v.tolist()} for i, v in enumerate(part)]
                self.client.insert(self.collection, rows)
                row += len(part)
        self.client.flush(self.collection)
        self.staged = []
        self._loaded = False  # new rows: load again before the next search

    def _load(self) -> None:
        """Milvus searches only collections loaded into memory (a reopened one starts released)."""
        if not self._loaded:
            self.client.load_collection(self.collection)
            self._loaded = True

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) like FAISS: inner products of unit vectors, -1 where fewer than k rows exist."""
        self._load()
        results = self.client.search(
            self.collection,
            data=np.asarray(queries, dtype=np.float32).tolist(),
            limit=k,
            search_params={"metric_type": "IP", "params": SEARCH_PARAMS[self.kind]},
        )
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for i, hits in enumerate(results):
            for j, hit in enumerate(hits[:k]):
                scores[i, j], rows[i, j] = hit["distance"], hit["id"]
        return scores, rows

    def reconstruct(self, row: int) -> np.ndarray:
        """The stored vector of `row`."""
        self._load()
        found = self.client.query(self.collection, ids=[int(row)], output_fields=["vector"])
        if not found:
            raise EmbedlabError(f"row {row} is not in Milvus collection '{self.collection}'")
        return np.asarray(found[0]["vector"], dtype=np.float32)

    def close(self) -> None:
        """Close the connection (Milvus Lite releases its file)."""
        if self._client is not None:
            self._client.close()
            self._client = None
