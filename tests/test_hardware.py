"""Machine facts: bf16 choice and the one-line machine summary, from mocked CPU facts."""

from __future__ import annotations

from embedlab import hardware


def test_bf16_auto_follows_amx_on_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert hardware.resolve_bf16("auto") is False  # bf16 instructions alone do not make autocast pay
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "amx_tile"}))
    assert hardware.resolve_bf16("auto") is True
    assert hardware.resolve_bf16(False) is False  # an explicit setting wins over the hardware


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
