"""Machine facts: bf16 choice, the warning where bf16 is emulated, and the one-line machine summary, from
mocked CPU facts."""

from __future__ import annotations

import json
import warnings

import numpy as np
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


CPU_KINDS = {  # (flags, training auto, inference auto, forcing bf16 warns)
    "AMX (Sapphire Rapids)": (
        frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
        True,
        True,
        False,
    ),
    "avx512_bf16 without AMX (Zen 4)": (frozenset({"avx512f", "avx512_bf16"}), False, False, False),
    "AVX2 only (Zen 3)": (AVX2_ONLY, False, False, True),
}


@pytest.mark.parametrize("kind", list(CPU_KINDS))
def test_the_bf16_choice_on_each_cpu_kind(kind, monkeypatch):
    import torch

    flags, training, inference, warns = CPU_KINDS[kind]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    monkeypatch.delenv("EMBEDLAB_TORCH_BF16", raising=False)
    assert hardware.resolve_bf16("auto") is training
    assert hardware.inference_bf16("cpu") is inference
    assert hardware.inference_bf16("cuda") is False  # GPUs choose by dtype
    monkeypatch.setenv("EMBEDLAB_TORCH_BF16", "0")
    assert hardware.inference_bf16("cpu") is False
    monkeypatch.setenv("EMBEDLAB_TORCH_BF16", "1")
    assert hardware.inference_bf16("cpu") is True
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert hardware.resolve_bf16(True) is True
    assert any(issubclass(w.category, EmbedlabWarning) for w in seen) is warns


def test_torch_encoding_picks_bf16_on_amx_and_records_it(monkeypatch, tiny_model_dir):
    import torch

    from embedlab.runtime.encoder import encoder_identity, load_encoder

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("EMBEDLAB_TORCH_BF16", raising=False)
    monkeypatch.delenv("EMBEDLAB_DEVICE", raising=False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    amx = load_encoder(str(tiny_model_dir), "torch", device="cpu")
    assert amx.bf16 and amx.identity["precision"] == "bf16"
    assert encoder_identity(str(tiny_model_dir), "torch")["precision"] == "bf16"  # predicted alike
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    zen4 = load_encoder(str(tiny_model_dir), "torch", device="cpu")
    assert not zen4.bf16 and zen4.identity["precision"] == "fp32"
    vectors = amx.encode(["a man plays guitar", "a dog runs in the park"])
    reference = zen4.encode(["a man plays guitar", "a dog runs in the park"])
    cosine = (
        (vectors * reference).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(reference, axis=1)
    )
    assert cosine.min() > 0.999
