"""One CLI dialect: every command's parameters follow the same rules, so a flag learned in one command means
the same in every other (`-m/--model`, `-k/--top-k`, `--out` a folder, `--force`), and `--version` answers."""

from __future__ import annotations

from collections import defaultdict

import pytest
import typer
from typer.testing import CliRunner

from embedlab import __version__
from embedlab.cli import app

# where the model is what the command works on, it is the first argument, not an option
MODEL_IS_THE_SUBJECT = {"eval", "serve", "export onnx", "bench speed", "index build", "soup"}


def commands() -> dict[str, list]:
    found: dict[str, list] = {}

    def walk(command, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = list(command.params)

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = commands()


def options(params) -> list:
    return [p for p in params if p.param_type_name == "option"]


def test_the_walk_sees_every_command():
    assert {"dedup", "cluster", "match", "eval", "embed", "index search", "classify predict"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_model_is_m_model_or_the_commands_subject(name):
    for param in COMMANDS[name]:
        if param.param_type_name == "argument" and param.name in ("model", "model_dir", "models"):
            assert name in MODEL_IS_THE_SUBJECT, f"{name}: the model is an argument; make it -m/--model"
        elif param.name == "model":
            assert set(param.opts) == {"-m", "--model"}, f"{name}: {param.opts}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_counts_of_results_are_top_k_and_out_is_a_folder_that_force_replaces(name):
    params = options(COMMANDS[name])
    names = {p.name for p in params}
    for param in params:
        assert "--k" not in param.opts, f"{name}: --k; use -k/--top-k (a count of results) or a word"
        if "-k" in param.opts:
            assert set(param.opts) == {"-k", "--top-k"}, f"{name}: {param.opts}"
        if param.name == "out":
            assert "folder" in (param.help or "").lower(), f"{name}: --out must be a folder ({param.help!r})"
    if "out" in names:
        assert names & {"force", "resume"}, f"{name}: --out without --force (or --resume)"


def test_one_name_per_idea_across_commands():
    spellings: dict[str, set] = defaultdict(set)
    shorts: dict[str, set] = defaultdict(set)
    for params in COMMANDS.values():
        for param in options(params):
            spellings[param.name].add(tuple(sorted(o for o in param.opts if o.startswith("--"))))
            for short in (o for o in param.opts if not o.startswith("--")):
                shorts[short].add(param.name)
    assert {k: v for k, v in spellings.items() if len(v) > 1} == {}
    assert {k: v for k, v in shorts.items() if len(v) > 1} == {}  # -m is always the model, -k the top k


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"embedlab {__version__}"


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, tmp_path):
    import embedlab.apps.dedup

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'faiss'", name="faiss")

    monkeypatch.setattr(embedlab.apps.dedup, "deduplicate", missing)
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "a text"}\n')
    monkeypatch.setattr("embedlab.runtime.encoder.load_encoder", lambda *a, **k: None)
    result = CliRunner().invoke(app, ["dedup", str(docs), "--dry-run"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        result.stderr.strip()
        == 'error: this needs faiss, which is not installed: pip install "embedlab[index]"'
    )


def test_library_errors_name_python_parameters_and_the_cli_says_flags(tmp_path):
    from embedlab.apps.common import check_threshold
    from embedlab.cli.apps import dedup
    from embedlab.cli.common import as_flags, option_names
    from embedlab.errors import EmbedlabError

    with pytest.raises(EmbedlabError, match=r"^threshold=1\.5: a cosine threshold"):
        check_threshold(1.5)  # what a Python caller passed, by its name
    names = option_names(dedup)
    assert names["k"] == "--top-k" and names["fmt"] == "--format" and names["force"] == "--force"
    assert (
        as_flags("k=0 is too few; pass force=True (--force)", names) == "--top-k 0 is too few; pass --force"
    )
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "a text"}\n')
    result = CliRunner().invoke(app, ["dedup", str(docs), "--threshold", "1.5", "--dry-run"])
    assert result.exit_code == 2 and result.stderr.startswith("error: --threshold 1.5: a cosine threshold")
