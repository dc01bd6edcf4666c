"""MkDocs hook: the configuration reference, generated from the pydantic models at build time.

A page holding `<!-- config-reference: dotted.path.Model -->` gets a table of that model's fields (and of
the models nested in it) in place of the marker, so the reference never drifts from the code.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing

from pydantic import BaseModel

MARKER = re.compile(r"<!-- config-reference: ([\w.]+) -->")


def _type_name(annotation) -> str:
    text = str(annotation).replace("typing.", "")
    text = re.sub(r"<class '([\w.]+)'>", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return re.sub(r"embedlab(?:\.\w+)*\.(\w+)", r"\1", text)


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """Each field's description: pydantic's `description`, else the comment the code writes beside it."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        for line in source.splitlines():
            match = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
            if match:
                found[match.group(1)] = match.group(2).strip()
    return found


def _table(model: type[BaseModel], prefix: str, seen: set) -> list[str]:
    rows, nested = [], []
    comments = _comments(model)
    for name, field in model.model_fields.items():
        value = None if field.is_required() else field.get_default(call_default_factory=True)
        default = (
            "required"
            if field.is_required()
            else "see below"
            if isinstance(value, BaseModel)
            else repr(value)
        )
        described = (field.description or comments.get(name, "")).replace("|", "\\|")
        rows.append(f"| `{prefix}{name}` | `{_type_name(field.annotation)}` | `{default}` | {described} |")
        for candidate in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and candidate not in seen:
                seen.add(candidate)
                nested.append((candidate, f"{prefix}{name}."))
    lines = ["| key | type | default | what it does |", "|---|---|---|---|", *rows]
    for candidate, sub in nested:
        summary = ((candidate.__doc__ or "").strip().splitlines() or [""])[0]
        lines += ["", f"**`{sub.rstrip('.')}`** {summary}", ""]
        lines += _table(candidate, sub, seen)
    return lines


def on_page_markdown(markdown: str, **_: object) -> str:
    """Each page's Markdown with its config-reference markers replaced by the generated tables."""

    def render(match: re.Match) -> str:
        module, _, name = match.group(1).rpartition(".")
        model = getattr(importlib.import_module(module), name)
        return "\n".join(_table(model, "", {model}))

    return MARKER.sub(render, markdown).replace("<!-- losses-table -->", losses_table())


def losses_table() -> str:
    """The losses `loss.name` accepts, from the one table the code reads (embedlab.config.LOSSES)."""
    from embedlab.config import LOSSES

    rows = [f"| `{name}` | `{spec.cls}` | {spec.paper} | {spec.needs} |" for name, spec in LOSSES.items()]
    return "\n".join(
        ["| `loss.name` | sentence-transformers class | from | needs |", "|---|---|---|---|", *rows]
    )
