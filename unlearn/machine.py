"""The machine a result was measured on, for the records experiments write beside their numbers."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path

LIBRARIES = ("torch", "transformers", "tokenizers", "pytorch-lightning", "lm-eval")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, cores, Python and the versions of the libraries the numbers depend on."""
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "libraries": {name: version(name) for name in LIBRARIES},
    }


def described(host: dict) -> str:
    """One line for a record's header: "<cpu>, <cores> cores; torch <v>, transformers <v>, ..."."""
    return f"{host['cpu']}, {host['cores']} cores; " + ", ".join(f"{name} {v}" for name, v in host["libraries"].items())
