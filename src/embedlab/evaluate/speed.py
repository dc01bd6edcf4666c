"""Speed and size of one model under each backend, measured back to back in one process on real STS-B
sentences: sentences/s and ms/sentence at several batch sizes, size on disk, STS-B test Spearman, and
throughput relative to torch fp32.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from embedlab.data.sts import sentences as sts_sentences
from embedlab.evaluate.parity import stsb_spearman
from embedlab.runtime.export import FP32_FILE, INT8_FILE


@dataclass(frozen=True)
class SpeedRow:
    """One row of the speed table: a model on one backend at one batch size."""

    model: str
    backend: str
    size_mb: float
    parameters_m: float | None
    batch_size: int
    sentences_per_s: float
    ms_per_sentence: float
    speedup_vs_torch_fp32: float
    stsb_spearman: float
    slowest_per_s: float | None = None  # the slowest and fastest timed pass: how much the machine moved
    fastest_per_s: float | None = None

    @property
    def spread(self) -> float:
        """(fastest − slowest) / median of the timed passes: above ~0.2 the machine was busy."""
        if self.slowest_per_s is None or self.fastest_per_s is None or not self.sentences_per_s:
            return 0.0
        return (self.fastest_per_s - self.slowest_per_s) / self.sentences_per_s

    def to_dict(self) -> dict:
        """The row as a plain dict (for JSON)."""
        return asdict(self)


def available_backends(model_dir: Path, include_bf16: bool) -> list[str]:
    """The backends a model folder can be timed on: torch (and torch-bf16), plus its ONNX files.

    Example::

        available_backends(Path("runs/minilm"), include_bf16=True)  # ["torch", "torch-bf16", "onnx", ...]
    """
    backends = ["torch"] + (["torch-bf16"] if include_bf16 else [])
    backends += [
        name for name, file in (("onnx", FP32_FILE), ("onnx-int8", INT8_FILE)) if (model_dir / file).is_file()
    ]
    return backends


def size_on_disk(model_dir: Path, backend: str) -> float:
    """Size in MB of what a backend loads: the ONNX file, or the torch weights."""
    if backend == "onnx":
        return (model_dir / FP32_FILE).stat().st_size / 1e6
    if backend == "onnx-int8":
        return (model_dir / INT8_FILE).stat().st_size / 1e6
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors")) / 1e6


def time_encoding(encoder, sentences: list[str], batch_size: int, repeats: int) -> tuple[float, float, float]:
    """Median, shortest and longest seconds to encode `sentences` once, after one warm-up pass.

    Example::

        median, shortest, longest = time_encoding(encoder, sentences, batch_size=32, repeats=5)
    """
    encoder.encode(sentences[: batch_size * 2], batch_size=batch_size)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        encoder.encode(sentences, batch_size=batch_size)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), min(timings), max(timings)


def bench_speed(
    model_dir: str | Path,
    backends: list[str],
    batch_sizes: tuple[int, ...] = (1, 32, 128),
    sentences: int = 512,
    repeats: int = 3,
    threads: int = 2,
    show_progress: bool = False,
) -> list[SpeedRow]:
    """Sentences per second (median of `repeats` passes, with the slowest and fastest) of a model on each
    backend and batch size, on STS-B test sentences; `show_progress` shows a labelled bar over the cells.

    Example::

        rows = bench_speed("runs/minilm", ["torch", "onnx-int8"], batch_sizes=(1, 32))
        print(speed_markdown(rows))
    """
    from tqdm.auto import tqdm

    from embedlab.runtime.encoder import TorchEncoder, load_encoder

    model_dir = Path(model_dir)
    sample = sts_sentences("stsb", "test", limit=sentences)
    rows: list[SpeedRow] = []
    bar = tqdm(
        total=len(backends) * len(batch_sizes), desc="bench speed", unit=" cells", disable=not show_progress
    )
    for backend in backends:
        encoder = (  # the table's torch row is fp32 on every CPU; torch-bf16 is its own row
            TorchEncoder(model_dir, bf16=backend == "torch-bf16", threads=threads)
            if backend.startswith("torch")
            else load_encoder(model_dir, backend, threads=threads)
        )
        parameters = (
            sum(p.numel() for p in encoder.model.parameters()) / 1e6
            if isinstance(encoder, TorchEncoder)
            else None
        )
        bar.set_postfix_str(f"{backend}: STS-B")
        spearman = stsb_spearman(encoder)
        for batch_size in batch_sizes:
            bar.set_postfix_str(f"{backend}, batch {batch_size}")
            # batch 1 is slow by nature: a quarter of the sentences keeps the run short
            subset = sample if batch_size > 1 else sample[: max(32, len(sample) // 4)]
            seconds, shortest, longest = time_encoding(encoder, subset, batch_size, repeats)
            rate = len(subset) / seconds
            rows.append(
                SpeedRow(
                    str(model_dir),
                    backend,
                    round(size_on_disk(model_dir, backend), 3),
                    round(parameters, 1) if parameters else None,
                    batch_size,
                    rate,
                    1000 / rate,
                    1.0,
                    spearman,
                    len(subset) / longest,
                    len(subset) / shortest,
                )
            )
            bar.update()
    bar.close()
    reference = {r.batch_size: r.sentences_per_s for r in rows if r.backend == "torch"}
    return [
        SpeedRow(**{**r.to_dict(), "speedup_vs_torch_fp32": r.sentences_per_s / reference[r.batch_size]})
        for r in rows
    ]


def speed_markdown(rows: list[SpeedRow]) -> str:
    """The speed rows as a Markdown table, with the speed-up over torch fp32."""
    from embedlab.evaluate.report import markdown_table

    headers = [
        "backend",
        "size MB",
        "params M",
        "batch",
        "sentences/s (median, min–max)",
        "ms/sentence",
        "× torch fp32",
        "STS-B test",
    ]
    body = [
        [
            r.backend,
            f"{r.size_mb:.1f}",
            f"{r.parameters_m:.1f}" if r.parameters_m else "–",
            str(r.batch_size),
            f"{r.sentences_per_s:.0f}"
            + (f" ({r.slowest_per_s:.0f}–{r.fastest_per_s:.0f})" if r.slowest_per_s is not None else ""),
            f"{r.ms_per_sentence:.2f}",
            f"{r.speedup_vs_torch_fp32:.2f}",
            f"{r.stsb_spearman:.2f}",
        ]
        for r in rows
    ]
    return markdown_table(headers, body)


def spread_warning(rows: list[SpeedRow], limit: float = 0.2) -> str | None:
    """One line naming the cells whose passes spread more than `limit` of their median (a busy machine:
    compare those figures with care), or None.

    Example::

        spread_warning(rows)  # "timings moved by more than 20 % in onnx batch 1 (35 %): ..."
    """
    wide = [f"{r.backend} batch {r.batch_size} ({100 * r.spread:.0f} %)" for r in rows if r.spread > limit]
    if not wide:
        return None
    return (
        f"timings moved by more than {100 * limit:.0f} % in {', '.join(wide)}: the machine was busy; "
        "rerun on an idle machine, or with more repeats, before comparing those cells"
    )


def speed_chart(rows: list[SpeedRow], path: Path) -> Path:
    """A bar chart of sentences per second per backend and batch size, saved as a PNG.

    Example::

        speed_chart(rows, Path("docs/images/speed.png"))
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(r.backend for r in rows))
    batch_sizes = sorted({r.batch_size for r in rows})
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(backends)
    for offset, backend in enumerate(backends):
        values = [
            next(r.sentences_per_s for r in rows if r.backend == backend and r.batch_size == b)
            for b in batch_sizes
        ]
        positions = [i + offset * width for i in range(len(batch_sizes))]
        axis.bar(positions, values, width, label=backend)
    axis.set_xticks([i + width * (len(backends) - 1) / 2 for i in range(len(batch_sizes))])
    axis.set_xticklabels([f"batch {b}" for b in batch_sizes])
    axis.set_ylabel("sentences / second")
    axis.set_title(f"Encoding throughput: {Path(rows[0].model).name}")
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


SPEED_KIND = "speed report"  # the kind of folder `write_speed_report` makes (embedlab.io ownership)


def check_speed_target(out: str | Path, model_dir: str | Path, *, force: bool = False) -> None:
    """Refuse, before the timing, an `out` that may not be written (see `embedlab.io.check_output_dir`); the
    default `results/speed` makes embedlab's results folder first.

    Example::

        check_speed_target("results/speed", "runs/minilm", force=True)
    """
    from embedlab.evaluate.suite import RESULTS, results_folder
    from embedlab.io import check_output_dir

    if Path(out).parent == RESULTS:
        results_folder()
    check_output_dir(out, kind=SPEED_KIND, force=force, inputs=[model_dir])


def write_speed_report(rows: list[SpeedRow], out: str | Path, model_dir: str | Path, *, force: bool = False):
    """speed.md (the table under the machine's summary), speed.json and speed.png into `out`, atomically.

    Example::

        write_speed_report(bench_speed("runs/minilm", ["torch", "onnx-int8"]), "results/speed", "runs/minilm")
    """
    import json

    from embedlab.hardware import machine_summary
    from embedlab.io import output_dir

    check_speed_target(out, model_dir, force=force)
    with output_dir(out, kind=SPEED_KIND, force=force, inputs=[model_dir]) as staging:
        (staging / "speed.md").write_text(
            f"{machine_summary()}\n\n{speed_markdown(rows)}\n", encoding="utf-8"
        )
        payload = {"machine": machine_summary(), "rows": [r.to_dict() for r in rows]}
        (staging / "speed.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        speed_chart(rows, staging / "speed.png")
    return [Path(out) / name for name in ("speed.md", "speed.json", "speed.png")]
