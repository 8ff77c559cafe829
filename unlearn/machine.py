"""The machine a result was measured on, for the records experiments write beside their numbers."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path

import torch

LIBRARIES = ("torch", "transformers", "tokenizers", "pytorch-lightning", "lm-eval")
# Variables that make torch's own kernels, MKL's or oneDNN's take another instruction set.
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, cores, the instruction set torch's CPU kernels were built for here (AVX2 or
    AVX512: the same CPU gives other digits with ATEN_CPU_CAPABILITY=avx2), Python and the
    versions of the libraries the numbers depend on."""
    host = {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "kernels": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "libraries": {name: version(name) for name in LIBRARIES},
    }
    chosen = {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ}
    return {**host, "kernel_variables": chosen} if chosen else host


def described(host: dict) -> str:
    """One line for a record's header: "<cpu>, <cores> cores (<kernels> kernels); torch <v>, transformers <v>, ..."."""
    chosen = " ".join(f"{name}={value}" for name, value in host.get("kernel_variables", {}).items())
    kernels = f" ({host['kernels']} kernels{', ' + chosen if chosen else ''})" if "kernels" in host else ""
    return f"{host['cpu']}, {host['cores']} cores{kernels}; " + ", ".join(f"{name} {v}" for name, v in host["libraries"].items())
