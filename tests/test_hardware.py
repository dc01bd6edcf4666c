"""Machine facts: bf16 choice, the warning where bf16 is emulated, and the one-line machine summary, from
mocked CPU facts."""

from __future__ import annotations

import json
import warnings

import pytest
from typer.testing import CliRunner

from embedlab import hardware
from embedlab.cli import app
from embedlab.errors import EmbedlabWarning

AVX2_ONLY = frozenset({"avx", "avx2", "fma", "f16c"})  # the EPYC of 2026-11-28: bf16 emulated, 6-12x slower


def test_bf16_auto_follows_amx_on_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert hardware.resolve_bf16("auto") is False  # bf16 instructions alone do not make autocast pay
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "amx_tile"}))
    assert hardware.resolve_bf16("auto") is True
    assert hardware.resolve_bf16(False) is False  # an explicit setting wins over the hardware


def test_forcing_bf16_where_the_cpu_emulates_it_warns(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    with pytest.warns(EmbedlabWarning, match="emulated on this CPU"):
        assert hardware.resolve_bf16(True) is True  # still honoured: the user asked for it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning below fails the test
        assert hardware.resolve_bf16("auto") is False
        assert hardware.resolve_bf16(False) is False
        monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
        assert hardware.resolve_bf16(True) is True  # Zen 4: bf16 in hardware, faster than fp32


def test_cli_prints_the_bf16_warning_in_one_line(monkeypatch, tiny_model_dir, tmp_path):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    docs = tmp_path / "docs.jsonl"
    rows = [{"id": "1", "text": "a cat sits"}, {"id": "2", "text": "a dog runs"}]
    docs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ["dedup", str(docs), "-m", str(tiny_model_dir), "--dry-run", "--device", "cpu"]
    result = CliRunner().invoke(app, [*args, "--backend", "torch-bf16"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "emulated on this CPU" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: bf16") and "Traceback" not in result.stderr
    plain = CliRunner().invoke(app, args)  # fp32: nothing to warn about
    assert plain.exit_code == 0 and "emulated" not in plain.stderr


def test_machine_summary_reports_the_machine_it_runs_on(monkeypatch):
    import os

    import torch

    monkeypatch.setattr(hardware, "cpu_name", lambda: "Example CPU 9000")
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    summary = hardware.machine_summary()
    assert summary.startswith(
        f"Example CPU 9000, {os.cpu_count()} cores (AMX), CPU only; torch {torch.__version__}"
    )
