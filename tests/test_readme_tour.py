"""The README's tour runs top to bottom, as written, on a small sample and the tiny model (every command but
`serve`, which listens until stopped): the lines a new user copies stay true."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedlab.cli import app

README = Path(__file__).parents[1] / "README.md"
SMALL = ["--papers", "60", "--questions", "10", "--new", "10"]  # the sample, small enough for the suite


def tour_lines() -> list[list[str]]:
    """The tour block's commands: continuations joined, comments and `source` dropped, split as a shell
    would split them."""
    block = re.search(r"<!-- tour -->\s*```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "README.md has no tour block"
    joined = block.group(1).replace("\\\n", " ")
    lines = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [words for words in lines if words and words[0] == "embedlab"]


def test_the_tour_names_every_job():
    jobs = {" ".join(words[1:3]) if words[1] in ("index", "classify", "export", "data") else words[1]
            for words in tour_lines()}  # fmt: skip
    assert jobs >= {"data sample", "eval", "adapt", "export onnx", "index build", "index search", "dedup",
                    "cluster", "match", "classify train", "classify predict", "serve"}  # fmt: skip


def test_the_tour_runs_top_to_bottom(tiny_model_dir, synthetic_data, arxiv_corpus, tmp_path, monkeypatch):
    import shutil

    data = shutil.copytree(synthetic_data, tmp_path / "data")  # the test data, with arXiv papers in it
    (data / "arxiv").mkdir(exist_ok=True)
    shutil.copy(arxiv_corpus, data / "arxiv" / "papers.jsonl.gz")
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for words in tour_lines():
        args = [str(tiny_model_dir) if word == "all-MiniLM-L6-v2" else word for word in words[1:]]
        if args[0] == "serve":
            continue  # it listens until stopped; the service has its own tests
        if args[:2] == ["data", "sample"]:
            args += SMALL
        if args[0] in ("adapt", "dedup", "cluster", "match") or args[:2] == ["classify", "train"]:
            args += ["-m", str(tiny_model_dir)]  # the tiny model where the README takes the default
        if args[0] == "adapt":  # STS is scored by its own tests: none here
            args[args.index("--tasks") + 1] = ""
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{' '.join(words)}\n{result.output}"
    assert (tmp_path / "tour-predictions" / "predictions.jsonl").is_file()
    assert (tmp_path / "runs" / "tour" / "model" / "onnx" / "model_qint8_per_channel.onnx").is_file()
    removed = (tmp_path / "tour-dedup" / "removed.jsonl").read_text().splitlines()
    assert len(removed) >= 20  # the planted copies


@pytest.mark.parametrize("command", ["data sample", "eval", "serve"])
def test_the_tour_keeps_its_first_words(command):
    assert any(" ".join(words[1:]).startswith(command) for words in tour_lines())
