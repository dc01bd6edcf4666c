"""The speed table: every backend and batch size, a Markdown table and a chart."""

from __future__ import annotations

import pytest

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today",
    "a dog runs in the park",
    "two men are fighting",
]


def test_speed_table_covers_every_backend_and_batch(exported_tiny, tmp_path):
    from embedlab.evaluate.speed import available_backends, bench_speed, speed_chart, speed_markdown

    backends = available_backends(exported_tiny, include_bf16=True)
    assert backends == ["torch", "torch-bf16", "onnx", "onnx-int8"]
    rows = bench_speed(exported_tiny, backends, batch_sizes=(1, 16), sentences=48, repeats=1)
    assert [(r.backend, r.batch_size) for r in rows] == [(b, n) for b in backends for n in (1, 16)]
    assert all(
        r.sentences_per_s > 0 and r.ms_per_sentence == pytest.approx(1000 / r.sentences_per_s) for r in rows
    )
    assert [r.speedup_vs_torch_fp32 for r in rows if r.backend == "torch"] == [1.0, 1.0]
    int8 = next(r for r in rows if r.backend == "onnx-int8")
    assert int8.size_mb < next(r for r in rows if r.backend == "onnx").size_mb
    assert "| onnx-int8 |" in speed_markdown(rows)
    assert all(r.slowest_per_s <= r.sentences_per_s <= r.fastest_per_s for r in rows)  # one pass: all equal
    chart = speed_chart(rows, tmp_path / "speed.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_wide_spread_of_passes_is_one_warning_line():
    from embedlab.evaluate.speed import SpeedRow, spread_warning

    steady = SpeedRow("m", "onnx", 1.0, None, 32, 100.0, 10.0, 1.0, 80.0, 95.0, 105.0)
    busy = SpeedRow("m", "torch", 1.0, None, 1, 100.0, 10.0, 1.0, 80.0, 60.0, 110.0)
    assert spread_warning([steady]) is None
    assert spread_warning([steady, busy]).startswith(
        "timings moved by more than 20 % in torch batch 1 (50 %)"
    )
