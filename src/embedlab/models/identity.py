"""What makes two models "the same model" for vectors: weights, pooling and normalisation.

An index remembers the identity of the model that made its vectors and refuses vectors of another one.
The identity does not depend on where the folder lives (a copied model is the same model), and not on
the backend's precision: an int8 ONNX export of a model is recorded as that model at `int8`.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from embedlab.io import sha256_file

PRECISIONS = {"torch": "fp32", "torch-bf16": "bf16", "onnx": "fp32", "onnx-int8": "int8"}
WEIGHT_SUFFIXES = (".safetensors", ".bin")
DEFINING_FILES = ("modules.json", "config.json", "tokenizer.json", "vocab.txt")  # with the weights


def model_identity(name: str, resolved: str, backend: str = "torch") -> dict:
    """The identity record stored in index manifests.

    `name` is what the user typed, `resolved` what the registry made of it (a folder, or a hub id).

    Example::

        model_identity("all-MiniLM-L6-v2", resolve("all-MiniLM-L6-v2"))
        # {'name': 'all-MiniLM-L6-v2', 'path': '/…/site-packages/…', 'fingerprint': '9f1c…',
        #  'pooling': 'mean', 'normalize': True, 'precision': 'fp32'}
    """
    path = Path(resolved).expanduser()
    identity: dict = {"name": str(name), "precision": PRECISIONS.get(backend, backend)}
    if path.is_dir():
        folder = path.resolve()
        stat = (folder / "modules.json").stat() if (folder / "modules.json").is_file() else None
        identity.update(_folder_identity(str(folder), stat.st_mtime_ns if stat else 0))
    else:  # a hub id: the name is all we know before it is downloaded
        identity.update(path=str(resolved), fingerprint=None, pooling=None, normalize=None)
    return identity


def same_model(a: dict, b: dict) -> bool:
    """True when two identities describe the same weights, pooling and normalisation.

    Example::

        same_model(index_manifest["model"], encoder.identity)
    """
    if a.get("fingerprint") and b.get("fingerprint"):
        return all(a.get(key) == b.get(key) for key in ("fingerprint", "pooling", "normalize"))
    return a.get("path") == b.get("path")


def describe(identity: dict) -> str:
    """One line for error messages: name, folder, short fingerprint, pooling, normalisation, precision."""
    parts = [str(identity.get("name"))]
    if identity.get("path") and identity.get("path") != identity.get("name"):
        parts.append(f"at {identity['path']}")
    if identity.get("fingerprint"):
        parts.append(f"weights {identity['fingerprint'][:12]}")
    if identity.get("pooling"):
        parts.append(f"{identity['pooling']} pooling")
    if identity.get("normalize") is not None:
        parts.append("normalised" if identity["normalize"] else "not normalised")
    parts.append(str(identity.get("precision")))
    return ", ".join(parts)


@lru_cache(maxsize=32)
def _folder_identity(folder: str, modules_mtime: int) -> dict:
    """Hash the weights and the module configs once per folder (and per change of modules.json)."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or relative.parts[0] in ("onnx", "checkpoints") or path.name.startswith("."):
            continue
        if path.suffix in WEIGHT_SUFFIXES or path.name in DEFINING_FILES:
            digest.update(f"{relative.as_posix()}:{sha256_file(path)}\n".encode())
    pooling, normalize = _pooling_and_normalisation(root)
    return {"path": folder, "fingerprint": digest.hexdigest(), "pooling": pooling, "normalize": normalize}


LEGACY_POOLING = {  # older Pooling configs (all-MiniLM-L6-v2's among them) set one boolean per mode
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_lasttoken": "lasttoken",
}


def pooling_mode_of(config: dict) -> str | None:
    """The pooling mode a Pooling config.json names (new or legacy form); None if it combines several.

    Example::

        pooling_mode_of({"pooling_mode_mean_tokens": True})  # 'mean'
    """
    if config.get("pooling_mode"):
        return str(config["pooling_mode"])
    chosen = [mode for key, mode in LEGACY_POOLING.items() if config.get(key)]
    return chosen[0] if len(chosen) == 1 else None


def _pooling_and_normalisation(root: Path) -> tuple[str | None, bool | None]:
    modules_path = root / "modules.json"
    if not modules_path.is_file():
        return None, None
    try:
        modules = json.loads(modules_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None, None
    pooling, normalize = None, False
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", ""))
        if kind.endswith("Pooling"):
            config_path = root / str(module.get("path", "")) / "config.json"
            try:
                config = json.loads(config_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                config = {}
            pooling = pooling_mode_of(config) or "mixed"
        elif kind.endswith("StaticEmbedding"):
            pooling = "static mean"
        elif kind.endswith("Normalize"):
            normalize = True
    return pooling, normalize
