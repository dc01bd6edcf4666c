"""ONNX export of a sentence-transformers folder: fp32 with dynamic batch and sequence axes, optional int8
(`embedlab.runtime.quantize`), written where sentence-transformers' ONNX backend looks. Parity:
`embedlab.evaluate.parity`.
"""

from __future__ import annotations

from pathlib import Path

from embedlab.errors import EmbedlabError, ModelError
from embedlab.io import atomic_path
from embedlab.runtime.quantize import matmul_sensitivity, quantize_int8

FP32_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8_per_channel.onnx"
KEEP_FP32 = 0  # MatMuls left in fp32 by default (docs/results.md: int8 levers)


def export_onnx(
    model_dir: str | Path,
    *,
    int8: bool = False,
    force: bool = False,
    opset: int = 17,
    keep_fp32: int = KEEP_FP32,
    attention: str | None = None,
) -> list[Path]:
    """Write onnx/model.onnx (and the int8 file); refuses to overwrite without `force`. Atomic per file.
    `keep_fp32`: how many of the MatMuls most sensitive to quantization (measured on STS-B dev sentences)
    the int8 file leaves in fp32. `attention`: the transformers attention implementation traced (e.g.
    "eager", the pattern onnxruntime's transformer optimizer fuses); the model's default otherwise.

    Example::

        export_onnx("runs/minilm", int8=True)  # runs/minilm/onnx/model.onnx, .../model_qint8_per_channel.onnx
    """
    from sentence_transformers import SentenceTransformer

    model_dir = Path(model_dir)
    if not (model_dir / "modules.json").is_file():
        raise ModelError(f"{model_dir} is not a sentence-transformers folder (no modules.json)")
    targets = [model_dir / FP32_FILE] + ([model_dir / INT8_FILE] if int8 else [])
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise EmbedlabError(f"{', '.join(existing)} already exists; pass --force to overwrite")
    kwargs = {"attn_implementation": attention} if attention else {}
    model = SentenceTransformer(str(model_dir), device="cpu", model_kwargs=kwargs)
    fp32 = model_dir / FP32_FILE
    _trace(model, fp32, opset)
    written = [fp32]
    if int8:
        keep: list[str] = []
        if keep_fp32:
            from embedlab.data.sts import sentences as sts_sentences

            ranked = matmul_sensitivity(model_dir, sts_sentences("stsb", "dev", limit=300), FP32_FILE)
            keep = [name for name, _ in ranked[:keep_fp32]]
        written.append(quantize_int8(fp32, model_dir / INT8_FILE, keep_fp32=keep))
    return written


def _trace(model, out: Path, opset: int) -> None:
    """The transformer's token embeddings as ONNX (pooling and normalisation stay in the encoder), atomically;
    batch and sequence length dynamic.
    """
    import torch

    transformer = model[0]
    backbone = transformer.auto_model.eval()
    example = transformer.tokenizer(
        ["a short sentence", "a somewhat longer second sentence"], padding=True, return_tensors="pt"
    )
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in example]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, *inputs):
            return self.backbone(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    out.parent.mkdir(exist_ok=True)
    with atomic_path(out) as staging, torch.no_grad():
        torch.onnx.export(
            TokenEmbeddings(),
            tuple(example[name] for name in names),
            str(staging),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
