"""Errors a user can act on. The CLI prints them in one line and exits with status 2."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class EmbedlabError(Exception):
    """Base class: a problem with the user's input, config or environment, not a bug."""


class DataError(EmbedlabError):
    """A malformed input record, located by file, line (or row) and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        where: str = "line",
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        location = []
        if self.path:
            location.append(self.path)
        if line is not None:
            location.append(f"{where} {line}")
        if field:
            location.append(f"field '{field}'")
        self.location = ", ".join(location)
        super().__init__(f"{self.location}: {message}" if location else message)


class ConfigError(EmbedlabError):
    """An invalid run config: unknown key, bad type or value, unreadable file."""


class TrainingError(EmbedlabError):
    """A run that went wrong in a way the user can act on: a non-finite loss or evaluation (diverged)."""


class ModelError(EmbedlabError):
    """A model name that cannot be resolved, or a packaged model whose package is missing."""


class EmbedlabWarning(UserWarning):
    """A setting that works but that the user should know about (the CLI prints it in one line).

    Example::

        warnings.warn("bf16 is emulated on this CPU", EmbedlabWarning, stacklevel=2)
    """


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line naming every bad key of a pydantic validation error: `source: key: problem; ...`.

    Example::

        raise ConfigError(format_validation_error("configs/x.yaml", error)) from None
    """
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            problems.append(f"{location}: unknown key")
        elif item["type"] == "missing":
            problems.append(f"{location}: required key missing")
        else:
            given = item.get("input")
            shown = f" (got {given!r})" if not isinstance(given, dict) else ""
            problems.append(f"{location}: {item['msg']}{shown}")
    return f"{source}: " + "; ".join(problems)


# the module a missing import names → the extra of `pip install "embedlab[EXTRA]"` that brings it
EXTRA_OF_MODULE = {
    **dict.fromkeys(
        ("torch", "sentence_transformers", "transformers", "datasets", "accelerate", "onnx"), "train"
    ),
    **dict.fromkeys(("sklearn", "matplotlib"), "eval"),
    **dict.fromkeys(("faiss", "filelock", "bm25s"), "index"),
    **dict.fromkeys(("fastapi", "uvicorn", "orjson", "pydantic_settings", "prometheus_client"), "serve"),
    **dict.fromkeys(("model2vec", "skeletoken"), "static"),
    **dict.fromkeys(("ray", "pymilvus", "milvus_lite"), "scale"),
    "mteb": "mteb",
}


def missing_extra(error: ImportError) -> str | None:
    """One line naming the extra to install for a missing module of embedlab's extras; None for any other.

    Example::

        missing_extra(ModuleNotFoundError(name="faiss"))  # 'this needs faiss: pip install "embedlab[index]"'
    """
    module = (getattr(error, "name", None) or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    return f'this needs {module}, which is not installed: pip install "embedlab[{extra}]"' if extra else None
