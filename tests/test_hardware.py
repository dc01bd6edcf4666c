from __future__ import annotations

from embedlab import hardware


def test_bf16_flag_forces_either_way():
    assert hardware.resolve_bf16(True) is True
    assert hardware.resolve_bf16(False) is False


def test_bf16_auto_follows_amx_on_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert hardware.resolve_bf16("auto") is False  # bf16 instructions alone do not make autocast pay
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "amx_tile"}))
    assert hardware.resolve_bf16("auto") is True


def test_machine_summary_names_cpu_and_torch():
    summary = hardware.machine_summary()
    assert "cores" in summary and "torch" in summary
