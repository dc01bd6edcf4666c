"""What this machine can do: bf16 support, devices, this process's rank under torchrun, and a one-line
description for results and model cards.
"""

from __future__ import annotations

import os
import platform
import warnings
from functools import cache
from pathlib import Path

from embedlab.errors import EmbedlabWarning


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (from /proc/cpuinfo; empty where there is none).

    Example::

        "avx512_bf16" in cpu_flags()
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@cache
def cpu_name() -> str:
    """The CPU's model name, or the platform's processor string.

    Example::

        cpu_name()  # "AMD EPYC 9R14"
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def has_amx() -> bool:
    """bf16 autocast pays on CPUs with AMX tiles (1.7–2.7× here); on others it is slower, so never assume."""
    return "amx_bf16" in cpu_flags()


def cpu_has_bf16() -> bool:
    """bf16 instructions on this CPU (AMX or avx512_bf16); without them torch emulates bf16, slowly."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def has_bf16_hardware() -> bool:
    """bf16 arithmetic in hardware (AMX, avx512_bf16 or a CUDA GPU): worth including in speed tables."""
    import torch

    return cpu_has_bf16() or torch.cuda.is_available()


def warn_if_bf16_emulated(device_type: str) -> None:
    """Warn (EmbedlabWarning) when bf16 is forced on a CPU with neither AMX nor avx512_bf16: there torch
    emulates it, measured 6× slower encoding and 12× slower training than fp32 on an AVX2-only
    EPYC (docs/results.md, "bf16 on a CPU without bf16 instructions").

    Example::

        warn_if_bf16_emulated("cpu")  # warns on an AVX2-only CPU; silent on Zen 4, AMX CPUs and GPUs
    """
    if device_type == "cpu" and not cpu_has_bf16() and is_main_process():  # once, not once per rank
        warnings.warn(
            "bf16 is emulated on this CPU (no AMX or avx512_bf16): expect it 6-12x slower than fp32; "
            "leave it off here (--no-bf16, backend torch)",
            EmbedlabWarning,
            stacklevel=3,
        )


def inference_bf16(device_type: str = "cpu") -> bool:
    """Whether torch *encoding* runs under bf16 autocast by default: on a CPU with AMX, where it keeps parity
    (mean cosine 0.99999; STS-B within 0.01 on an avx512_bf16 Zen, docs/results.md) and pays (1.8× measured
    on AMX). `EMBEDLAB_TORCH_BF16=0` keeps fp32, `=1` forces bf16 on any CPU. GPUs choose by `dtype`.
    Evaluations never use it: their figures are the saved model's in fp32.

    Example::

        inference_bf16("cpu")  # True on a Sapphire Rapids, False on a Zen 4 or an AVX2-only EPYC
    """
    setting = os.environ.get("EMBEDLAB_TORCH_BF16", "auto").strip().lower()
    if device_type != "cpu" or setting in ("0", "false", "no", "off"):
        return False
    return setting in ("1", "true", "yes", "on") or has_amx()


def resolve_bf16(setting: bool | str) -> bool:
    """`auto` → bf16 on a CUDA GPU that supports it, or on a CPU with AMX; True/False force it (forcing it
    on a CPU that emulates bf16 warns).
    """
    import torch

    if isinstance(setting, bool):
        if setting and not torch.cuda.is_available():
            warn_if_bf16_emulated("cpu")
        return setting
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return has_amx()


def machine_summary() -> str:
    """One line describing this machine for results tables: CPU, cores, AMX, GPU, library versions.

    Example::

        machine_summary()  # "AMD EPYC 9R14, 2 cores (no AMX), CPU only; ..."
    """
    import torch

    device = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU only"
    amx = "AMX" if has_amx() else "no AMX"
    return (
        f"{cpu_name()}, {os.cpu_count()} cores ({amx}), {device}; "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )


def resolve_device(device: str | None = None) -> str:
    """`auto` → `cuda` when a CUDA device is present, else `cpu`; an explicit device must exist. None reads
    `EMBEDLAB_DEVICE` (default `auto`).

    Example::

        resolve_device("auto")   # "cpu" on a laptop, "cuda" on a GPU machine
        resolve_device("cuda:1") # ModelError on a machine without a second GPU
    """
    import torch

    from embedlab.errors import ModelError

    device = device or os.environ.get("EMBEDLAB_DEVICE", "auto")
    if device == "auto":  # under torchrun each process takes its own GPU
        local = os.environ.get("LOCAL_RANK")
        return (f"cuda:{local}" if local else "cuda") if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    suffix = device.partition(":")[2]
    if device == "cuda" or (device.startswith("cuda:") and suffix.isdigit()):
        index = int(suffix or 0)
        if not torch.cuda.is_available():
            raise ModelError(
                f"device={device}: no CUDA device here (torch {torch.__version__}); use cpu or auto"
            )
        if not 0 <= index < torch.cuda.device_count():
            raise ModelError(f"device={device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return device
    raise ModelError(f"device={device}: choose auto, cpu, cuda or cuda:N")


def resolve_dtype(dtype: str, device: str):
    """`auto` → bf16 on a GPU that supports it (else fp16 on a GPU), fp32 on a CPU; or the one asked for.

    Example::

        resolve_dtype("auto", "cuda")  # torch.bfloat16 on an A100 / H100
    """
    import torch

    from embedlab.errors import ModelError

    names = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in names:
        raise ModelError(f"dtype={dtype}: choose auto, fp32, fp16 or bf16")
    return names[dtype]


def world_size() -> int:
    """How many processes train together (torchrun / accelerate set `WORLD_SIZE`; 1 otherwise).

    Example::

        world_size()  # 1 for `embedlab train`, 8 under `torchrun --nproc_per_node 8 ...`
    """
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True in the process that writes (rank 0, or the only process): run folders, cards, logs, output.

    Example::

        if is_main_process():
            write_json_atomic(run_dir / "results.json", results)
    """
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    """A barrier across the torchrun processes (nothing without torchrun): the others wait while rank 0
    prepares what they read. Joins the process group the Trainer would start (NCCL on GPUs, else gloo).

    Example::

        if is_main_process():
            prepare_run_dir(config, resume, overwrite)
        wait_for_everyone()
    """
    if world_size() == 1:
        return
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # data preparation on rank 0 (pair mining) may outlast the default 10-30 minutes
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(hours=2))
    dist.barrier()
