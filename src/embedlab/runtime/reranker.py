"""Rerankers on any backend: `torch` is sentence-transformers' `CrossEncoder`; `onnx` and `onnx-int8` run the
files `embedlab export onnx` writes for a reranker folder with onnxruntime, tokenizers and numpy only — the
same `predict(pairs)` call, so evaluation, search and the service take either. Reranking reads every
candidate with the query, so its cost grows with the depth (docs/results.md: rerank-50 latency per backend).

    reranker = load_reranker("runs/reranker-arxiv-minilm/model", backend="onnx-int8")
    scores = reranker.predict([("graph colouring", "four colour theorem")])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from embedlab.errors import ModelError
from embedlab.runtime.batching import length_batches, pad_encodings
from embedlab.runtime.encoder import onnx_session, pad_id_of, read_max_length

RERANKER_BACKENDS = ("torch", "onnx", "onnx-int8")


def activation_of(model_dir: Path) -> str:
    """The function a CrossEncoder folder applies to its logit: 'sigmoid' (BCE-trained, the default of a
    one-output model) or 'identity'.

    Example::

        activation_of(Path("runs/reranker-arxiv-minilm/model"))  # "sigmoid"
    """
    try:
        settings = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        settings = {}
    name = str(settings.get("activation_fn") or "Sigmoid")
    return "identity" if name.endswith("Identity") else "sigmoid"


class OnnxReranker:
    """A reranker folder's ONNX export (fp32 or int8) scoring (query, document) pairs: pairs tokenised as the
    CrossEncoder does (longest-first truncation to the model's maximum length), batched by length, the logit
    through the folder's activation. Imports no torch.

    Example::

        reranker = OnnxReranker("runs/reranker/model", "onnx/model_qint8_per_channel.onnx")
        reranker.predict([("a query", "a document")])  # array([0.93], dtype=float32)
    """

    def __init__(
        self,
        model_dir: str | Path,
        file_name: str = "onnx/model.onnx",
        threads: int = 2,
        device: str | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.file_name = file_name
        path = self.model_dir / file_name
        if not path.is_file():
            raise ModelError(f"{path} not found; run: embedlab export onnx {self.model_dir} --int8")
        self.max_length = read_max_length(self.model_dir)
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length, strategy="longest_first")
        self.tokenizer.no_padding()
        self.pad_id = pad_id_of(self.tokenizer)
        self.activation = activation_of(self.model_dir)
        self.session = onnx_session(path, threads, device)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def predict(
        self,
        pairs: Sequence[tuple[str, str]],
        batch_size: int = 32,
        show_progress_bar: bool = False,
        convert_to_numpy: bool = True,
    ) -> np.ndarray:
        """One score per (query, document) pair, in order (the keywords `CrossEncoder.predict` takes)."""
        encodings = self.tokenizer.encode_batch([tuple(pair) for pair in pairs])
        counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        logits = np.empty(len(encodings), dtype=np.float32)
        for chosen in length_batches(counts, batch_size, None):
            arrays = pad_encodings([encodings[i] for i in chosen], self.pad_id)
            (out,) = self.session.run(None, {name: arrays[name] for name in self.input_names})
            logits[chosen] = np.asarray(out, dtype=np.float32).reshape(len(chosen), -1)[:, 0]
        if self.activation == "sigmoid":  # what CrossEncoder applies to a one-output model's logit
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return logits

    def token_counts(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Each pair's token count before the cut at `max_length` (above it, the pair was cut)."""
        encoded = self._untruncated.encode_batch([tuple(p) for p in pairs])
        return np.array([len(e.ids) for e in encoded], dtype=np.int64)

    @cached_property
    def _untruncated(self):
        """The tokenizer without the cut, made once (the service counts every batch's pairs with it)."""
        from tokenizers import Tokenizer

        whole = Tokenizer.from_str(self.tokenizer.to_str())
        whole.no_truncation()
        return whole


def load_reranker(model: str | Path, backend: str = "torch", *, threads: int = 2, device: str | None = None):
    """A reranker to score pairs with: `torch` (a `CrossEncoder`), or `onnx` / `onnx-int8` (the folder's
    export, checked against its weights like an embedding model's).

    Example::

        reranker = load_reranker("runs/reranker-arxiv-minilm/model", "onnx-int8")
    """
    from embedlab.models.cross_encoder import check_reranker, load_cross_encoder
    from embedlab.models.registry import resolve
    from embedlab.runtime.export import FP32_FILE, INT8_FILE, check_export

    if backend not in RERANKER_BACKENDS:
        raise ModelError(f"backend={backend!r} for a reranker: choose one of {', '.join(RERANKER_BACKENDS)}")
    if backend == "torch":
        return load_cross_encoder(model, device=device)
    check_reranker(model)
    folder = Path(resolve(model))
    file_name = INT8_FILE if backend == "onnx-int8" else FP32_FILE
    if (folder / file_name).is_file():
        check_export(folder, file_name)
    return OnnxReranker(folder, file_name, threads=threads, device=device)
