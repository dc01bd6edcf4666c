"""What every command shares: the Typer apps, option types, one-line errors, tables."""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from embedlab.errors import EmbedlabError, EmbedlabWarning, missing_extra
from embedlab.hardware import is_main_process

# The libraries' own bars ("Loading weights", "Writing model shards", "Map") are noise between embedlab's
# labelled progress; read when those libraries are first imported, so set before any command runs.
for _variable in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
    os.environ.setdefault(_variable, "1")

app = typer.Typer(
    help="From text data to a deployed, measured sentence-embedding model.", no_args_is_help=True
)


def _print_version(asked: bool) -> None:
    if asked:
        from embedlab import __version__

        typer.echo(f"embedlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """From text data to a deployed, measured sentence-embedding model."""


models_app = typer.Typer(help="Known models and where they come from.", no_args_is_help=True)
data_app = typer.Typer(help="Check and inspect data files.", no_args_is_help=True)
export_app = typer.Typer(help="Export a model for fast, torch-free inference.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")
index_app = typer.Typer(help="FAISS indexes of your documents: build, add, search.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(index_app, name="index")
bench_app = typer.Typer(help="Measure speed and size.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
tokenizer_app = typer.Typer(help="Tokenizers for models trained from scratch.", no_args_is_help=True)
app.add_typer(tokenizer_app, name="tokenizer")
distill_app = typer.Typer(help="Smaller models from a teacher.", no_args_is_help=True)
app.add_typer(distill_app, name="distill")

BackendName = Literal["torch", "torch-bf16", "onnx", "onnx-int8"]
Backend = Annotated[
    BackendName,
    typer.Option(help="Encoder: torch, torch-bf16, onnx or onnx-int8 (after `embedlab export onnx`)."),
]
IndexBackend = Annotated[
    BackendName | None,
    typer.Option(help="Encoder backend.", show_default="the precision the index was built with"),
]
IndexKind = Literal["flat", "ivf", "hnsw", "ivfpq"]
SearchMode = Literal["dense", "bm25", "hybrid"]
LockTimeout = Annotated[
    float, typer.Option(min=0, help="Seconds to wait for another process writing the index.")
]
IdField = Annotated[str, typer.Option(help="Field holding the document id.")]
TextField = Annotated[str, typer.Option(help="Field holding the text to embed.")]
Force = Annotated[bool, typer.Option(help="Replace the output of an earlier run of this command.")]
SkipBadRows = Annotated[
    bool,
    typer.Option(help="Set bad rows aside in rejected.jsonl (beside the output) instead of stopping."),
]
Rerank = Annotated[
    str | None,
    typer.Option(
        "--rerank",
        help="A reranker that reorders the first results: a CrossEncoder folder (`embedlab train "
        "configs/reranker-arxiv-minilm.yaml` makes one).",
    ),
]
RerankBackend = Annotated[
    Literal["torch", "onnx", "onnx-int8"],
    typer.Option(
        "--rerank-backend",
        help="The reranker's backend: torch, or onnx / onnx-int8 after `embedlab export onnx DIR --int8`.",
    ),
]
RerankDepth = Annotated[
    int, typer.Option("--rerank-depth", min=1, help="--rerank: how many first-stage results it reorders.")
]
# The dialect (tests/test_cli_dialect.py holds every command to it): a model is `-m/--model` — defaulting to
# the packaged all-MiniLM-L6-v2 where documents are embedded, to the recorded one where an index or
# classifier says which — except where the model is what the command works on (eval, serve, export, bench,
# index build: the first argument); a count of results is `-k/--top-k`; `--out` is a folder; `--force`
# replaces.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
Model = Annotated[str, typer.Option("--model", "-m", help="Model name or folder.")]
ManifestModel = Annotated[
    str | None, typer.Option("--model", "-m", help="Model.", show_default="the one in the manifest")
]


def top_k(help: str, minimum: int = 1):
    """The `-k/--top-k` option of a command, with its own help and least value."""
    return typer.Option("--top-k", "-k", min=minimum, help=help)


Device = Annotated[
    str | None,
    typer.Option(
        help="auto (CUDA when present), cpu, cuda or cuda:N.", show_default="EMBEDLAB_DEVICE or auto"
    ),
]

Dtype = Annotated[
    Literal["auto", "fp32", "fp16", "bf16"] | None,
    typer.Option(help="GPU precision: auto (bf16 where supported), fp32, fp16, bf16.", show_default="auto"),
]

console = Console(quiet=not is_main_process())  # under torchrun, one process reports
errors = Console(stderr=True)

_TYPE_NAMES = {"<str>": "TEXT", "<int>": "INTEGER", "<float>": "FLOAT", "<path>": "PATH"}


def _help_type(self, ctx) -> str | None:
    """Help shows flags bare and values as TEXT, INTEGER or [a|b|c], not typer's `<bool>`-style labels."""
    if getattr(self, "is_flag", False):
        return None
    shown = typer.core.TyperOption.display_type(self, ctx) if self.metavar is None else self.metavar
    if shown and shown.startswith("<") and shown.endswith(">"):
        shown = _TYPE_NAMES.get(shown, f"[{shown[1:-1]}]" if "|" in shown else shown[1:-1].upper())
    return f"{shown}..." if shown and self.nargs != 1 else shown


typer.core.TyperOption.display_type_rich = _help_type  # type: ignore[method-assign]
typer.core.TyperArgument.display_type_rich = _help_type  # type: ignore[method-assign]


@contextmanager
def _one_line_warnings():
    """Embedlab's own warnings print as one line, like its errors; the libraries' keep their form."""
    with warnings.catch_warnings():
        show_as_before = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            if issubclass(category, EmbedlabWarning):
                errors.print(f"[bold yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
            else:
                show_as_before(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def user_errors(command):
    """Input problems end in one line on stderr and exit status 2, never a traceback; embedlab's warnings
    print in one line too.
    """

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with _one_line_warnings():
                return command(*args, **kwargs)
        except EmbedlabError as error:
            line = as_flags(str(error), option_names(command))
            errors.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except ModuleNotFoundError as error:  # an extra not installed: say which, not a traceback
            line = missing_extra(error)
            if line is None:
                raise
            errors.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


TEXT_COLUMNS = {"id", "passage", "metadata", "keywords", "text", "label"}  # left-aligned, wherever they are


def option_names(command) -> dict[str, str]:
    """Each Python parameter of a command and the long option it is on the command line (`k` → `--top-k`).

    Example::

        option_names(dedup)["k"]  # "--top-k"
    """
    import typing

    names = {}
    for name, hint in typing.get_type_hints(command, include_extras=True).items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, typer.models.OptionInfo):
                # in Annotated, typer takes a first positional "--name" as the option's name, not a default
                first = [meta.default] if isinstance(meta.default, str) else []
                longs = [d for d in [*first, *(meta.param_decls or ())] if d.startswith("--")]
                names[name] = longs[0] if longs else "--" + name.replace("_", "-")
    return names


def as_flags(message: str, names: dict[str, str]) -> str:
    """A library error, which names Python parameters (`top_k=0`, `force=True`), in the command line's words
    (`--top-k 0`, `--force`).

    Example::

        as_flags("out=x is a file", {"out": "--out"})  # "--out x is a file"
    """
    for name in sorted(names, key=len, reverse=True):
        flag = names[name]
        message = re.sub(rf"(?<![\w.-]){name}=(True\b|(?=[\s:;,)]|$))", flag, message)  # the option alone
        message = re.sub(rf"(?<![\w.-]){name}=", f"{flag} ", message)
    return re.sub(r"(--[\w-]+) \(\1\)", r"\1", message)  # "pass --force (--force)": once is enough


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """Print a rich table; the first column and text columns left-aligned, the others right-aligned
    (numbers).

    Example::

        print_table("STS-B", ["split", "spearman"], [["test", "82.03"]])
    """
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 or header in TEXT_COLUMNS else "right")
    for row in rows:
        table.add_row(*row, style="bold" if row[0] == "average" else None)
    console.print(table)


def print_rejected(count: int, where) -> None:
    """Say how many bad rows `--skip-bad-rows` set aside, and where they are (silent when none)."""
    if count:
        console.print(f"set aside {count:,} bad rows: {where}", highlight=False)


def use_device(device: str | None, dtype: str | None = None) -> None:
    """Check `--device` now (one line if it is not there) and make it, and `--dtype`, this process's default
    for every model the command loads (`EMBEDLAB_DEVICE`, `EMBEDLAB_DTYPE`), even deep inside the library.
    """
    import os

    if dtype is not None:
        os.environ["EMBEDLAB_DTYPE"] = dtype
    if device is None:
        return
    from embedlab.hardware import resolve_device

    resolve_device(device)
    os.environ["EMBEDLAB_DEVICE"] = device
