"""One `Encoder` protocol, two implementations.

`TorchEncoder` is the reference (sentence-transformers). `OnnxEncoder` needs only onnxruntime, tokenizers
and numpy — it imports no torch — so a service built on it is small and starts fast. It reads pooling,
normalisation and maximum length from the model folder's own config files instead of assuming them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from embedlab.errors import ModelError
from embedlab.io import l2_normalise
from embedlab.models.identity import pooling_mode_of
from embedlab.runtime.batching import length_batches, pad_encodings


@runtime_checkable
class Encoder(Protocol):
    """What every backend offers: `encode`, token counts, a dimension and an identity.

    Example::

        encoder: Encoder = load_encoder("runs/minilm", backend="onnx-int8")
        vectors = encoder.encode(["a sentence"], batch_size=32)
    """

    dim: int
    max_seq_length: int

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings of `texts`, one float32 row per text."""
        ...

    def encode_counted(self, texts: list[str], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and each text's token count (what the service reports as usage)."""
        ...

    def count_tokens(self, texts: list[str]) -> int:
        """The number of tokens the model sees for `texts` (after truncation)."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens of `text`, without special tokens or truncation."""
        ...

    @property
    def identity(self) -> dict:
        """The model's identity (see `embedlab.models.identity`): what an index checks vectors against."""
        ...


class TorchEncoder:
    """sentence-transformers, as the reference every other backend is checked against.

    Example::

        encoder = TorchEncoder("all-MiniLM-L6-v2")
        vectors = encoder.encode(["A man plays a guitar.", "A dog runs."])  # (2, 384) float32
    """

    def __init__(
        self,
        model_dir: str | Path,
        device: str | None = None,
        bf16: bool | None = None,
        threads: int | None = None,
        dtype: str = "auto",
    ) -> None:
        from embedlab.hardware import inference_bf16, resolve_device, warn_if_bf16_emulated
        from embedlab.models import load_model
        from embedlab.models.registry import resolve
        from embedlab.runtime.gpu import PipelinedEncoder

        if threads:
            import torch

            torch.set_num_threads(threads)  # process-wide: torch has no per-model setting

        self.name = str(model_dir)
        self.resolved = resolve(model_dir)
        self.device = resolve_device(device)
        self.model = load_model(self.resolved, device=self.device)
        self.dim = int(self.model.get_embedding_dimension() or 0)
        limit = self.model.max_seq_length  # a static model has none: infinity
        self.max_seq_length = int(limit) if math.isfinite(limit) else 0
        # autocast: by default where it keeps parity and pays (AMX; `inference_bf16`), else as asked
        self.bf16 = inference_bf16(self.model.device.type) if bf16 is None else bf16
        if bf16:
            warn_if_bf16_emulated(self.model.device.type)
        self.pipelined = None
        dtype = os.environ.get("EMBEDLAB_DTYPE", "auto") if dtype == "auto" else dtype
        if self.device.startswith("cuda") and self.max_seq_length:  # a GPU: keep it fed (runtime/gpu.py)
            self.pipelined = PipelinedEncoder(self.model, dtype="bf16" if self.bf16 else dtype)
            self.bf16 = str(self.pipelined.dtype) == "torch.bfloat16"  # what the identity records

    @classmethod
    def of(cls, model, name: str | Path) -> TorchEncoder:
        """An encoder around a loaded `SentenceTransformer` (fp32), named by its folder or name `name`: what
        an evaluation of a model in memory — just trained, or just saved — encodes with.

        Example::

            encoder = TorchEncoder.of(model, "runs/x/model")
        """
        from embedlab.models.registry import resolve

        encoder = cls.__new__(cls)
        encoder.name, encoder.resolved, encoder.model = str(name), resolve(name), model
        encoder.device, encoder.bf16, encoder.pipelined = str(model.device), False, None
        encoder.dim = int(model.get_embedding_dimension() or 0)
        limit = model.max_seq_length
        encoder.max_seq_length = int(limit) if math.isfinite(limit) else 0
        return encoder

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings of `texts` (float32), with bf16 autocast when the encoder was made with it."""
        import torch

        if self.pipelined is not None:
            return self.pipelined.encode(list(texts))
        with torch.autocast(self.model.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self.model.encode(
                list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_counted(self, texts: list[str], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and each text's token count."""
        return self.encode(texts, batch_size), self.token_counts(texts)

    def token_counts(self, texts: list[str]) -> np.ndarray:
        """Each text's token count, as the model sees it (special tokens included, truncated)."""
        from tokenizers import Tokenizer

        tokenizer = self.model.tokenizer
        if isinstance(tokenizer, Tokenizer):  # a static model's: no special tokens, no limit
            encoded = tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return np.array([len(e.ids) for e in encoded], dtype=np.int64)
        encoded = tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)
        return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)

    def count_tokens(self, texts: list[str]) -> int:
        """The total token count of `texts`."""
        return int(self.token_counts(texts).sum())

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens of `text` (no special tokens, no truncation), to chunk."""
        from tokenizers import Tokenizer

        tokenizer = self.model.tokenizer
        if isinstance(tokenizer, Tokenizer):
            return list(tokenizer.encode(text, add_special_tokens=False).offsets)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]

    @cached_property
    def identity(self) -> dict:
        """The model's identity (folder, fingerprint, pooling, precision) for index manifests."""
        from embedlab.models.identity import model_identity

        return model_identity(self.name, self.resolved, "torch-bf16" if self.bf16 else "torch")


def encode_in_chunks(
    encode: Callable[[list[str]], np.ndarray],
    texts: list[str],
    label: str,
    *,
    dim: int,
    batch_size: int = 64,
    show: bool = True,
) -> np.ndarray:
    """`encode` over `texts` in chunks under one labelled progress bar counting texts (instead of a bar per
    batch, or raw prints): chunks large enough to keep batches full, small enough to move the bar.

    Example::

        vectors = encode_in_chunks(lambda part: encoder.encode(part, 64), texts, "index", dim=encoder.dim)
    """
    from tqdm.auto import tqdm

    chunk = max(batch_size * 16, 1024)
    parts = []
    with tqdm(total=len(texts), desc=f"{label}: encoding", unit=" texts", disable=not show) as bar:
        for start in range(0, len(texts), chunk):
            piece = texts[start : start + chunk]
            parts.append(np.asarray(encode(piece)))
            bar.update(len(piece))
    return np.concatenate(parts) if parts else np.empty((0, dim), dtype=np.float32)


def onnx_providers(device: str | None) -> list[str]:
    """The onnxruntime providers for a device: CUDA where onnxruntime-gpu is installed and a GPU asked for (or
    `auto` finds one), else the CPU. Torch-free: the device is judged by onnxruntime alone.

    Example::

        onnx_providers("auto")  # ["CPUExecutionProvider"] without onnxruntime-gpu
    """
    import os

    import onnxruntime as ort

    device = device or os.environ.get("EMBEDLAB_DEVICE", "auto")
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if device.startswith("cuda") and not has_cuda:
        raise ModelError(
            f"device={device}: onnxruntime here has no CUDA provider (pip install onnxruntime-gpu)"
        )
    if device.startswith("cuda") or (device == "auto" and has_cuda):
        index = device.partition(":")[2] or "0"
        return [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]  # type: ignore[list-item]
    return ["CPUExecutionProvider"]


def onnx_session(path: Path, threads: int, device: str | None):
    """An onnxruntime session of `path` on `threads` intra-op threads (one inter-op: batches run one at a
    time), on the device's providers.

    Example::

        session = onnx_session(Path("my-model/onnx/model.onnx"), threads=2, device="cpu")
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=onnx_providers(device))


def pad_id_of(tokenizer) -> int:
    """The padding token's id of a `tokenizers.Tokenizer` (BERT's [PAD], else <pad>, else 0)."""
    found = tokenizer.token_to_id("[PAD]")
    return found if found is not None else tokenizer.token_to_id("<pad>") or 0


def read_model_layout(model_dir: Path) -> tuple[str, bool, int]:
    """Pooling mode, whether a Normalize module follows, and the maximum sequence length."""
    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        raise ModelError(f"{model_dir} is not a sentence-transformers folder (no modules.json)")
    modules = json.loads(modules_path.read_text())
    pooling_mode, normalize = "mean", False
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            config = json.loads((model_dir / module["path"] / "config.json").read_text())
            mode = pooling_mode_of(config)
            if mode is None:
                raise ModelError(
                    f"pooling config {config} combines modes; the ONNX encoder supports exactly one"
                )
            pooling_mode = mode
        elif kind.endswith("Normalize"):
            normalize = True
        elif not kind.endswith("Transformer"):
            raise ModelError(f"{model_dir}: module {kind} is not supported by the ONNX encoder")
    return pooling_mode, normalize, read_max_length(model_dir)


def read_max_length(model_dir: Path) -> int:
    """Where the maximum length is: sentence_bert_config.json (sentence-transformers < 6) or the tokenizer."""
    for file_name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        path = model_dir / file_name
        value = json.loads(path.read_text()).get(key) if path.is_file() else None
        if isinstance(value, int) and 0 < value < 100_000:  # tokenizers write 1e30 for "no limit"
            return value
    return 512


class OnnxEncoder:
    """onnxruntime + tokenizers + numpy. Texts are tokenised once, sorted by token count and batched so each
    batch pads little; with `token_budget`, a batch of long texts holds fewer rows (rows × longest ≤ budget),
    which keeps long-text batches in cache.

    Example::

        encoder = OnnxEncoder("my-model", "onnx/model_qint8_per_channel.onnx")  # after `embedlab export onnx`
        vectors = encoder.encode(["A man plays a guitar."])
    """

    def __init__(
        self,
        model_dir: str | Path,
        file_name: str = "onnx/model.onnx",
        threads: int = 2,
        device: str | None = None,
        token_budget: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.file_name = file_name
        self.token_budget = token_budget
        self.pooling, self.normalize, self.max_seq_length = read_model_layout(self.model_dir)
        onnx_path = self.model_dir / file_name
        if not onnx_path.is_file():
            raise ModelError(f"{onnx_path} not found; run: embedlab export onnx {self.model_dir}")
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()  # padded per batch, to the batch's longest
        self.pad_id = pad_id_of(self.tokenizer)
        self.session = onnx_session(onnx_path, threads, device)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings of `texts` (float32)."""
        return self.encode_counted(texts, batch_size)[0]

    def encode_counted(self, texts: list[str], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and token counts."""
        encodings = self.tokenizer.encode_batch(list(texts))
        counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for chosen in length_batches(counts, batch_size, self.token_budget):
            feeds = self.feeds([encodings[i] for i in chosen])
            (tokens,) = self.session.run(None, feeds)
            out[chosen] = self._pool(tokens, feeds["attention_mask"])
        return (l2_normalise(out) if self.normalize else out), counts

    def feeds(self, encodings: list, width: int | None = None) -> dict[str, np.ndarray]:
        """The model's inputs for tokenised texts, padded to the longest (or to `width`)."""
        arrays = pad_encodings(encodings, self.pad_id, width)
        return {name: arrays[name] for name in self.input_names}

    def count_tokens(self, texts: list[str]) -> int:
        """The total token count of `texts` (after truncation)."""
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(list(texts)))

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens of `text` (no special tokens, no truncation), to chunk."""
        return list(self._untruncated.encode(text, add_special_tokens=False).offsets)

    @cached_property
    def _untruncated(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.tokenizer.to_str())  # already unpadded
        tokenizer.no_truncation()
        return tokenizer

    @cached_property
    def identity(self) -> dict:
        """The model's identity (folder, fingerprint, pooling, precision) for index manifests."""
        from embedlab.models.identity import model_identity

        backend = "onnx-int8" if "int8" in self.file_name else "onnx"
        return model_identity(str(self.model_dir), str(self.model_dir), backend)

    def _pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            return tokens[:, 0]
        weights = mask[..., None].astype(np.float32)
        if self.pooling == "max":
            return np.where(weights > 0, tokens, -1e9).max(axis=1)
        if self.pooling == "mean":
            return (tokens * weights).sum(axis=1) / weights.sum(axis=1).clip(min=1e-9)
        raise ModelError(f"pooling mode '{self.pooling}' is not supported by the ONNX encoder")


BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")


def encoder_identity(model: str | Path, backend: str = "torch") -> dict:
    """The identity `load_encoder(model, backend).identity` will have, without loading the weights: what a
    job checks before starting (a resumed embedding, a Ray driver whose actors load the model).

    Example::

        encoder_identity("all-MiniLM-L6-v2", "onnx-int8")["precision"]  # "int8"
    """
    from embedlab.hardware import inference_bf16, resolve_device
    from embedlab.models.identity import model_identity
    from embedlab.models.registry import resolve

    resolved = resolve(model)
    if backend == "torch" and resolve_device(None) == "cpu" and inference_bf16("cpu"):
        backend = "torch-bf16"  # what TorchEncoder will choose on this CPU
    return model_identity(resolved if backend.startswith("onnx") else str(model), resolved, backend)


def load_encoder(
    model: str | Path,
    backend: str = "torch",
    threads: int = 2,
    device: str | None = None,
    dtype: str = "auto",
) -> Encoder:
    """`torch` (any name, folder or hub id) or `onnx` (a folder exported with `embedlab export onnx`;
    `onnx-int8` picks its int8 file). `device`: auto (CUDA when present; `EMBEDLAB_DEVICE` sets the default),
    cpu, cuda or cuda:N; `dtype` (GPU): auto, fp32, fp16 or bf16.

    Example::

        encoder = load_encoder("my-model", "onnx-int8", threads=2)
        encoder = load_encoder("all-MiniLM-L6-v2", device="cuda", dtype="bf16")
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    if backend in ("torch", "torch-bf16"):  # torch: bf16 autocast where it pays and keeps parity (AMX)
        bf16 = True if backend == "torch-bf16" else None
        return TorchEncoder(model, device, bf16=bf16, threads=threads, dtype=dtype)
    from embedlab.models.registry import resolve
    from embedlab.runtime.export import check_export

    folder = Path(resolve(model))
    file_name = "onnx/model_qint8_per_channel.onnx" if backend == "onnx-int8" else "onnx/model.onnx"
    if (folder / file_name).is_file():  # an export older than the weights would give another model's vectors
        check_export(folder, file_name)
    return OnnxEncoder(folder, file_name, threads=threads, device=device)
