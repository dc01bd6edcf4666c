"""What this machine can do: bf16 support, and a one-line description for results and model cards."""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path


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


def has_bf16_hardware() -> bool:
    """bf16 arithmetic in hardware (AMX, avx512_bf16 or a CUDA GPU): worth including in speed tables."""
    import torch

    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags()) or torch.cuda.is_available()


def resolve_bf16(setting: bool | str) -> bool:
    """`auto` → bf16 on a CUDA GPU that supports it, or on a CPU with AMX; True/False force it."""
    if isinstance(setting, bool):
        return setting
    import torch

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
