"""A stage after a fine-tune must not start with the fine-tune's freed memory still resident."""

from __future__ import annotations

import os

import pytest
import torch

from unlearn.models import _heap_trimmer, release_memory


def _resident_gb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


@pytest.mark.skipif(_heap_trimmer() is None, reason="the C library has no malloc_trim (not glibc)")
@pytest.mark.skipif(
    any(name.startswith("MALLOC_") for name in os.environ), reason="malloc tuned by the environment: blocks may not go to the heap"
)
def test_release_memory_hands_freed_heap_blocks_back_to_the_system():
    """Blocks of 1 MB (a layer's optimizer state is such) freed between blocks still held are
    holes in glibc's heap that it keeps resident on its own; release_memory returns them."""
    torch.ones(2**22)  # a 16 MB block, freed at once, raises glibc's mmap threshold: the next ones go to the heap
    held = [torch.ones(2**18) for _ in range(400)]
    del held[::2]
    before = _resident_gb()
    release_memory()
    assert _resident_gb() < before - 0.15
    assert all(bool(block[-1] == 1) for block in held)
