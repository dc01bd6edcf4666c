"""FAISS indexes of embedded documents: versioned folders, a model identity, one writer at a time."""

from embedlab.index.faiss_build import PQSettings
from embedlab.index.faiss_index import DocumentIndex, Hit
from embedlab.index.manifest import check_target, model_backend, model_source, read_manifest
from embedlab.index.store import (
    add_to_index,
    build_index,
    check_addition,
    create_index,
    create_index_from_vectors,
    milvus_settings,
)

__all__ = [
    "DocumentIndex",
    "Hit",
    "PQSettings",
    "add_to_index",
    "build_index",
    "check_addition",
    "check_target",
    "create_index",
    "create_index_from_vectors",
    "milvus_settings",
    "model_backend",
    "model_source",
    "read_manifest",
]
