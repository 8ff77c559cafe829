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
from omegaconf import DictConfig
from safetensors.torch import load_file

from unlearn.components import Prepared, prepare
from unlearn.config import compose_config
from unlearn.labels.generate import generic_labels
from unlearn.models import release_memory
from unlearn.pipeline import Artifacts, build_models
from unlearn.stages import LABELS_FILE, label_inputs

HERE = Path(__file__).resolve().parent
ALPHAS = [1.0, 2.5, 5.0, 10.0, 20.0]


def built(overrides: list[str], out: Path) -> tuple[DictConfig, Prepared, Artifacts]:
    """The run's stages up to the labels."""
    cfg = compose_config([f"paths.output_dir={out}", "stages=[labels]", *overrides])
    prepared = prepare(cfg)
    return cfg, prepared, build_models(cfg, prepared)


def cache_with_reinforced_model(overrides: list[str], out: Path) -> Path:
    """A fresh stage cache holding only the target, the baseline and the reinforced model (hard links)."""
    cfg = compose_config([f"paths.output_dir={out}", "stages=[reinforce]", *overrides])
    prepared = prepare(cfg)
    build_models(cfg, prepared)
    fresh = Path(tempfile.mkdtemp(prefix="alpha-sweep-cache-"))
    for stage in ("target", "baseline", "reinforce"):
        shutil.copytree(prepared.cache.root / stage, fresh / stage, copy_function=os.link)
    return fresh


def main(overrides: list[str]) -> None:
    out = Path(tempfile.mkdtemp(prefix="alpha-sweep-"))
    cache = cache_with_reinforced_model(overrides, out)
    rows = []
    for alpha in ALPHAS:
        cfg, prepared, run = built([*overrides, f"labels.alpha={alpha}", f"paths.cache_dir={cache}"], out)
        parts = prepared.parts
        labels = load_file(run.labels.folder / LABELS_FILE)["labels"]
        stage_s = prepared.clock.seconds["labels"]
        start = time.perf_counter()
        direct = generic_labels(
            label_inputs(parts.labels, parts.model, run.baseline, run.blocks, run.reinforced, run.dictionary, int(cfg.seed))
        )
        release_memory()
        direct_s = time.perf_counter() - start
        stats = json.loads((run.labels.folder / "stats.json").read_text())
        rows.append({"alpha": alpha, "stages_s": stage_s, "direct_s": direct_s, "identical": bool(torch.equal(labels, direct)), **stats})
        print(rows[-1], flush=True)
    single = sum(r["direct_s"] for r in rows) / len(rows)
    sweep = sum(r["stages_s"] for r in rows)
    result = {
        "overrides": overrides,
        "top_k": parts.labels.top_k,
        "blocks": len(run.blocks.blocks),
        "tokens": run.blocks.blocks.tokens,
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
