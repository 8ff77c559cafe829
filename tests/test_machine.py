"""The machine a record names: the instruction set of torch's CPU kernels and the variables
that change it are part of it, since they change the digits (experiments/toy_world)."""

from __future__ import annotations

import torch

from unlearn.machine import described, machine


def test_a_record_names_the_kernels_and_only_the_variables_set(monkeypatch):
    for name in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    host = machine()
    assert host["kernels"] == torch.backends.cpu.get_cpu_capability() and "kernel_variables" not in host
    assert f"({host['kernels']} kernels);" in described(host)
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    forced = machine()
    assert forced["kernel_variables"] == {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    assert "kernels, MKL_ENABLE_INSTRUCTIONS=AVX2);" in described(forced)


def test_records_written_before_the_kernels_were_named_are_still_described():
    host = {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2, "python": "3.11.7", "libraries": {"torch": "2.13.0+cpu"}}
    assert described(host) == "Intel(R) Xeon(R) Processor, 2 cores; torch 2.13.0+cpu"
