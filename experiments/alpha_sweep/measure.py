"""Does an alpha sweep cost one label generation? On the toy world's default run it times:

- sweep: the candidates and labels stages, as `python -m unlearn -m labels.alpha=...`
  runs them, for five alphas on an empty stage cache (the first alpha builds the
  candidate store, every alpha computes its labels from it, with the forward-pass
  fallback where the store does not decide);
- direct: one label generation without the store (load both models, one forward pass of
  each over every block, argmax of the combination, memory released), per alpha;

and checks that every alpha's labels equal the direct computation's. The baseline and
the reinforced model come from the stage cache (built if absent, not timed).

    python experiments/alpha_sweep/measure.py [hydra overrides...]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from unlearn.config import compose_config
from unlearn.labels.generate import generic_labels
from unlearn.models import release_memory
from unlearn.pipeline import LABELS_FILE, Pipeline

HERE = Path(__file__).resolve().parent
ALPHAS = [1.0, 2.5, 5.0, 10.0, 20.0]


def pipeline(overrides: list[str], out: Path) -> Pipeline:
    return Pipeline(compose_config([f"paths.output_dir={out}", *overrides]), out)


def cache_with_reinforced_model(overrides: list[str], out: Path) -> Path:
    """A fresh stage cache holding only the target, the baseline and the reinforced model (hard links)."""
    shared = pipeline(overrides, out)
    _ = shared.reinforced
    fresh = Path(tempfile.mkdtemp(prefix="alpha-sweep-cache-"))
    for stage in ("target", "baseline", "reinforce"):
        shutil.copytree(shared.cache.root / stage, fresh / stage, copy_function=os.link)
    return fresh


def main(overrides: list[str]) -> None:
    out = Path(tempfile.mkdtemp(prefix="alpha-sweep-"))
    cache = cache_with_reinforced_model(overrides, out)
    rows = []
    for alpha in ALPHAS:
        run = pipeline([*overrides, f"labels.alpha={alpha}", f"paths.cache_dir={cache}"], out)
        _ = run.blocks, run.reinforced, run.tokenizer
        labels = load_file(run.labels / LABELS_FILE)["labels"]
        stage_s = run.clock.seconds.get("candidates", 0.0) + run.clock.seconds["labels"]
        start = time.perf_counter()
        direct = generic_labels(run._label_inputs())
        release_memory()
        direct_s = time.perf_counter() - start
        stats = json.loads((run.labels / "stats.json").read_text())
        rows.append({"alpha": alpha, "stages_s": stage_s, "direct_s": direct_s, "identical": bool(torch.equal(labels, direct)), **stats})
        print(rows[-1], flush=True)
    single = sum(r["direct_s"] for r in rows) / len(rows)
    sweep = sum(r["stages_s"] for r in rows)
    result = {
        "overrides": overrides,
        "top_k": run.label_generator.top_k,
        "blocks": len(run.blocks),
        "tokens": run.blocks.tokens,
        "single_direct_s": single,
        "sweep_s": sweep,
        "sweep_over_single": sweep / single,
        "alphas": rows,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "alphas"}, indent=1))
    name = "_".join(["results", *(o.replace("=", "-") for o in overrides)])
    (HERE / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    shutil.rmtree(cache)


if __name__ == "__main__":
    main(sys.argv[1:])
