"""What the labels ask of the model when the two views combine as raw logits (the paper's) and
as log-probabilities (`labels.combine_on=log_probs`), on Macbeth with SmolLM2 at alpha 5.

    python experiments/macbeth/label_scales.py [hydra overrides...]

Reads the sweep's reinforced model (sweep.py's REINFORCE) and the baseline on each anchored
translation, as the label stage does, and reports per scale: the mean KL divergence of the
generic distribution from the baseline's over every labelled position, the share of positions
whose argmax it changes, and, at each corpus position where a forget probe's answer follows the
probe's last two words, the probability the baseline, the reinforced model and the generic
distribution give the answer. Writes label_scales.json and label_scales.md beside this file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from sweep import PROBES, REINFORCE
from tqdm.auto import tqdm

from unlearn.components import prepare
from unlearn.config import compose_config
from unlearn.labels import SCALES, to_log_probs
from unlearn.pipeline import build_models
from unlearn.stages import label_inputs

HERE = Path(__file__).resolve().parent


def answer_positions(ids: torch.Tensor, tokenizer, probes: list[dict]) -> list[dict]:
    """Every token of the corpus that is a forget probe's answer's first token right after the
    probe's last two words: its block and position, the corpus text before it, and how many
    probes ask for it there."""
    found: dict[tuple[int, int], dict] = {}
    for probe in probes:
        answer = tokenizer(" " + probe["answer"], add_special_tokens=False).input_ids[0]
        context = " ".join(probe["prompt"].split()[-2:])
        for block, position in (ids[:, 1:] == answer).nonzero().tolist():
            before = tokenizer.decode(ids[block, max(0, position - 7) : position + 1])
            if " ".join(before.split()).endswith(context):
                entry = found.setdefault((block, position + 1), {"context": before, "answer": probe["answer"], "probes": 0,
                                                                 "block": block, "position": position + 1})  # fmt: skip
                entry["probes"] += 1
    return list(found.values())


def main(overrides: list[str]) -> None:
    forget = [p for p in map(json.loads, PROBES.read_text().splitlines()) if p["split"] == "forget"]
    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", *REINFORCE, "labels=whp", "stages=[labels]", f"paths.output_dir={scratch}", *overrides])
        prepared = prepare(cfg)
        run = build_models(cfg, prepared)
        generator = prepared.parts.labels
        paper = replace(generator, combine_on="logits")
        inputs = label_inputs(paper, prepared.parts.model, run.baseline, run.blocks, run.reinforced, run.dictionary, int(cfg.seed))
        ids = run.blocks.blocks.input_ids
        at_probes = answer_positions(ids, run.blocks.tokenizer, forget)
        totals = {scale: {"kl": 0.0, "changed": 0} for scale in SCALES}
        labelled = 0
        for start in tqdm(inputs.batch_starts(), desc="label scales", unit="batch"):
            batch = inputs.logits(start)
            for row, (base, reinforced, keep) in enumerate(zip(batch.base, batch.reinforced, batch.keep, strict=True)):
                base, reinforced = base[:-1], reinforced[:-1]
                base_lp, reinforced_lp = to_log_probs(base.clone()), to_log_probs(reinforced.clone())
                generic = {
                    "logits": paper.combine(base, reinforced).log_softmax(-1),
                    "log_probs": paper.combine(base_lp, reinforced_lp).log_softmax(-1),
                }
                labelled += int(keep.sum())
                for scale, target in generic.items():
                    totals[scale]["kl"] += float((target.exp() * (target - base_lp)).sum(-1)[keep].sum())
                    totals[scale]["changed"] += int((target.argmax(-1) != base_lp.argmax(-1))[keep].sum())
                for entry in at_probes:
                    if entry["block"] == start + row:
                        t, answer = entry["position"] - 1, int(ids[start + row, entry["position"]])
                        entry |= {"labelled": bool(keep[t]), "baseline_translated": float(base_lp[t, answer].exp()),
                                  "reinforced": float(reinforced_lp[t, answer].exp())}  # fmt: skip
                        entry |= {scale: float(target[t, answer].exp()) for scale, target in generic.items()}
    scales = {scale: {"mean_kl_from_baseline": t["kl"] / labelled, "argmax_changed": t["changed"] / labelled}
              for scale, t in totals.items()}  # fmt: skip
    result = {"overrides": overrides, "alpha": generator.alpha, "labelled_positions": labelled, "scales": scales, "probes": at_probes}
    (HERE / "label_scales.json").write_text(json.dumps(result, indent=1) + "\n")
    (HERE / "label_scales.md").write_text(summary(result))


def summary(result: dict) -> str:
    command = " ".join(["python experiments/macbeth/label_scales.py", *result["overrides"]])
    lines = [
        "# Generic labels on raw logits and on log-probabilities",
        "",
        f"Written by `{command}`: Macbeth's {result['labelled_positions']:,} labelled positions at alpha "
        f"{result['alpha']:g}, with the sweep's reinforced model.",
        "",
        "| combined as | mean KL(generic, baseline), nats | argmax changed |",
        "|---|---|---|",
        *(f"| {scale} | {s['mean_kl_from_baseline']:.3f} | {s['argmax_changed']:.1%} |" for scale, s in result["scales"].items()),
        "",
        "Each corpus position where a forget probe's answer follows the probe's last two words: the answer's probability "
        "under the baseline (on the anchored translation, as the labels read it), the reinforced model, and the generic "
        "distribution combined both ways. A position without a label is one the method leaves alone (docs/method.md, "
        "alignment rules 1 and 3).",
        "",
        "| corpus text before | answer | probes | labelled | baseline | reinforced | generic on logits | generic on log-probs |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {' '.join(p['context'].split())!r} | {p['answer']} | {p['probes']} | {'yes' if p['labelled'] else 'no'} | "
            f"{p['baseline_translated']:.3f} | {p['reinforced']:.3f} | {p['logits']:.3f} | {p['log_probs']:.3f} |"
            for p in result["probes"]
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1:])
