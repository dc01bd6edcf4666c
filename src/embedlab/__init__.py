"""embedlab: from text data to a deployed, measured sentence-embedding model.

Every CLI job in a few lines of Python. The names below are imported on first use, so `import embedlab`
stays fast and loads no torch until a function needs it:

    import embedlab

    encoder = embedlab.load_encoder("all-MiniLM-L6-v2")                        # torch, onnx, onnx-int8
    result = embedlab.evaluate_suite("all-MiniLM-L6-v2", "stsb,sickr")          # embedlab eval
    run = embedlab.train_from_config(embedlab.load_config("configs/stsb-minilm.yaml"))  # embedlab train
    index, documents, _ = embedlab.build_index("all-MiniLM-L6-v2", "docs.jsonl", "my-index")
    hits = embedlab.search(index, encoder, "graph colouring", k=5)           # embedlab index search
    kept = embedlab.deduplicate(texts, encoder, threshold=0.9)               # embedlab dedup
    topics = embedlab.cluster(encoder.encode(texts), texts)                   # embedlab cluster
    app = embedlab.create_app(embedlab.ServeSettings(model="all-MiniLM-L6-v2"))  # embedlab serve
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name → (module, attribute): the front door; each module is imported when its name is first used.
# No name may be a subpackage's (`evaluate`, `train`, `index`, ...): importing it would replace the function.
_FRONT_DOOR = {
    "load_model": ("embedlab.models", "load_model"),
    "load_encoder": ("embedlab.runtime.encoder", "load_encoder"),
    "load_config": ("embedlab.config", "load_config"),
    "train_from_config": ("embedlab.train.trainer", "train_from_config"),
    "evaluate_suite": ("embedlab.evaluate.suite", "evaluate_suite"),
    "export_onnx": ("embedlab.runtime.export", "export_onnx"),
    "embed_corpus": ("embedlab.embed", "embed_corpus"),
    "read_vectors": ("embedlab.embed", "read_vectors"),
    "build_index": ("embedlab.index.store", "build_index"),
    "create_index": ("embedlab.index.store", "create_index"),
    "add_to_index": ("embedlab.index.store", "add_to_index"),
    "DocumentIndex": ("embedlab.index", "DocumentIndex"),
    "search": ("embedlab.index.search", "search"),
    "rerank": ("embedlab.models.cross_encoder", "rerank"),
    "load_reranker": ("embedlab.runtime.reranker", "load_reranker"),
    "deduplicate": ("embedlab.apps.dedup", "deduplicate"),
    "cluster": ("embedlab.apps.cluster", "cluster_vectors"),
    "match": ("embedlab.apps.match", "match_texts"),
    "train_classifier": ("embedlab.apps.classify", "train_classifier"),
    "create_app": ("embedlab.serve", "create_app"),
    "ServeSettings": ("embedlab.serve", "ServeSettings"),
}

__all__ = ["__version__", *_FRONT_DOOR]


def __getattr__(name: str) -> Any:
    if name not in _FRONT_DOOR:
        raise AttributeError(f"module 'embedlab' has no attribute {name!r}")
    module, attribute = _FRONT_DOOR[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
