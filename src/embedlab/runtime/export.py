"""ONNX export of a sentence-transformers folder: fp32 with dynamic batch and sequence axes, optional int8
(`embedlab.runtime.quantize`), written where sentence-transformers' ONNX backend looks. Parity:
`embedlab.evaluate.parity`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from embedlab.errors import EmbedlabError, ModelError
from embedlab.io import atomic_path, is_owned, mark_folder, write_json_atomic
from embedlab.models.identity import model_identity
from embedlab.runtime.quantize import matmul_sensitivity, quantize_int8, quantize_int8_per_row

FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8_per_channel.onnx"
RECORD = "onnx/export.json"  # the fingerprint of the weights the files were made from
KIND = "onnx export"  # the kind of folder `export_onnx` makes in the model folder (embedlab.io ownership)
KEEP_FP32 = 0  # MatMuls left in fp32 by default (docs/results.md: int8 levers)
INT8_SCHEMES = ("per-row", "dynamic")


def weights_fingerprint(model_dir: str | Path) -> str | None:
    """The fingerprint of a model folder's weights and module configs (its `onnx/` aside).

    Example::

        weights_fingerprint("runs/minilm")  # "9f1c…"
    """
    return model_identity(str(model_dir), str(model_dir))["fingerprint"]


def _recorded(model_dir: Path) -> dict:
    import json

    try:
        files = json.loads((model_dir / RECORD).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}


def check_export(model_dir: str | Path, file_name: str = FP32_FILE) -> None:
    """Refuse an ONNX file that was not made from the weights the folder holds now (retrained, souped or
    replaced since), or that has no record: its vectors would be another model's.

    Example::

        check_export("runs/minilm", INT8_FILE)  # silent when the int8 file matches the weights
    """
    model_dir = Path(model_dir)
    flag = " --int8" if file_name == INT8_FILE else ""
    mend = f"export it again: embedlab export onnx {model_dir}{flag} --force"
    recorded = _recorded(model_dir).get(Path(file_name).name)
    if recorded is None:
        raise ModelError(f"{model_dir / file_name} has no export record in {RECORD}; {mend}")
    if recorded != weights_fingerprint(model_dir):
        raise ModelError(
            f"{model_dir / file_name} was exported from other weights than {model_dir} holds now; {mend}"
        )


def export_onnx(
    model_dir: str | Path,
    *,
    int8: bool = False,
    force: bool = False,
    opset: int = 17,
    keep_fp32: int = KEEP_FP32,
    attention: str | None = None,
    int8_scheme: str = "per-row",
) -> list[Path]:
    """Write onnx/model.onnx (and the int8 file); refuses to overwrite without `force`. Atomic per file.
    `keep_fp32`: how many of the MatMuls most sensitive to quantization (measured on STS-B dev sentences)
    the int8 file leaves in fp32. `attention`: the transformers attention implementation traced (e.g.
    "eager", the pattern onnxruntime's transformer optimizer fuses); the model's default otherwise.
    `int8_scheme`: `per-row` (default: activations quantized per token, so a text's vector is the same
    alone or in any batch) or `dynamic` (onnxruntime's, one range per batch tensor: faster, but a vector
    moves with its batch mates, cosine down to 0.988).

    A reranker folder (a `CrossEncoder`) is exported the same way, its logit as the output: the files
    `embedlab.runtime.reranker.load_reranker(..., backend="onnx-int8")` runs.

    Example::

        export_onnx("runs/minilm", int8=True)  # runs/minilm/onnx/model.onnx, .../model_qint8_per_channel.onnx
    """
    from embedlab.models.cross_encoder import CROSS_ENCODER, model_kind

    model_dir = Path(model_dir)
    if not (model_dir / "modules.json").is_file():
        raise ModelError(f"{model_dir} is not a sentence-transformers folder (no modules.json)")
    if int8_scheme not in INT8_SCHEMES:
        raise EmbedlabError(f"int8_scheme {int8_scheme!r}: choose {' or '.join(INT8_SCHEMES)}")
    onnx_dir = model_dir / "onnx"
    if onnx_dir.is_dir() and any(onnx_dir.iterdir()) and not is_owned(onnx_dir, KIND):
        raise EmbedlabError(
            f"{onnx_dir} holds files embedlab did not write; embedlab never replaces them: move them away"
        )
    targets = [model_dir / FP32_FILE] + ([model_dir / INT8_FILE] if int8 else [])
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise EmbedlabError(f"{', '.join(existing)} already exists; pass force=True (--force) to overwrite")
    onnx_dir.mkdir(exist_ok=True)
    mark_folder(onnx_dir, KIND, ["*.onnx", "*.onnx.data", Path(RECORD).name])
    files = {name: fp for name, fp in _recorded(model_dir).items() if name not in {t.name for t in targets}}
    write_json_atomic(model_dir / RECORD, {"files": files})  # while the files change, they have no record
    reranker = model_kind(model_dir) == CROSS_ENCODER
    if reranker and keep_fp32:
        raise EmbedlabError(
            "keep_fp32 is measured on STS sentences: it is for embedding models, not rerankers"
        )
    fp32 = model_dir / FP32_FILE
    backbone, tokenizer, output = _traced_parts(model_dir, attention, reranker)
    _trace(backbone, tokenizer, output, fp32, opset)
    written = [fp32]
    if int8:
        keep: list[str] = []
        if keep_fp32:
            from embedlab.data.sts import sentences as sts_sentences

            ranked = matmul_sensitivity(model_dir, sts_sentences("stsb", "dev", limit=300), FP32_FILE)
            keep = [name for name, _ in ranked[:keep_fp32]]
        quantize = quantize_int8_per_row if int8_scheme == "per-row" else quantize_int8
        written.append(quantize(fp32, model_dir / INT8_FILE, keep_fp32=keep))
    fingerprint = weights_fingerprint(model_dir)
    write_json_atomic(model_dir / RECORD, {"files": files | {path.name: fingerprint for path in written}})
    return written


def _traced_parts(model_dir: Path, attention: str | None, reranker: bool) -> tuple[object, object, str]:
    """The transformer to trace, its tokenizer, and the output traced: an embedding model's token embeddings
    (pooling and normalisation stay in the encoder), or a reranker's logits (its activation stays outside).
    """
    kwargs = {"attn_implementation": attention} if attention else {}
    if reranker:
        from embedlab.models.cross_encoder import load_cross_encoder

        model = load_cross_encoder(model_dir, device="cpu")
        return model.model.eval(), model.tokenizer, "logits"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", model_kwargs=kwargs)
    return model[0].auto_model.eval(), model[0].tokenizer, "last_hidden_state"


def _trace(backbone, tokenizer, output: str, out: Path, opset: int) -> None:
    """`backbone`'s `output` as ONNX, atomically; batch and sequence length dynamic."""
    import torch

    example = tokenizer(
        ["a short sentence", "a somewhat longer second sentence"], padding=True, return_tensors="pt"
    )
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in example]

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, *inputs):
            return getattr(self.backbone(**dict(zip(names, inputs, strict=True))), output)

    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {output: {0: "batch"}}
    if output == "last_hidden_state":
        axes[output][1] = "sequence"
    out.parent.mkdir(exist_ok=True)
    # tracing's TracerWarnings (shape checks frozen as constants) are expected here: the axes stay dynamic
    with atomic_path(out) as staging, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Traced(),
            tuple(example[name] for name in names),
            str(staging),
            input_names=names,
            output_names=[output],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
