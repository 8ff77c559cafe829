"""Which general-knowledge probes a Macbeth sweep point's unlearned model stops answering, and
by how much the baseline had preferred the answer at the first token it generates.

    python experiments/macbeth/probe_margins.py [point]    # default: the recipe's point, seed 1

For every general-knowledge probe of unlearn/targets/macbeth/probes.jsonl, the baseline's and
the unlearned model's next-token log-probabilities after the prompt, as the probe evaluator
reads it (models from the cache the point's run filled): a probe's margin is the log-probability
of its answer's first token minus that of the likeliest other token (negative where another token
comes first). Whether each model answers the probe comes from the point's report. Writes
probe_margins.json and probe_margins.md beside this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from sweep import PROBES, RUNS, each_model

HERE = Path(__file__).resolve().parent
POINT = "soft_logprobs_lr3e-4_seed1"


@torch.inference_mode()
def first_token_margins(model, tokenizer, probes: list[dict]) -> list[float]:
    margins = []
    for probe in probes:
        ids = tokenizer(probe["prompt"], return_tensors="pt").input_ids
        logprobs = model(input_ids=ids).logits[0, -1].float().log_softmax(-1)
        answer = tokenizer(" " + probe["answer"], add_special_tokens=False).input_ids[0]
        others = logprobs.clone()
        others[answer] = -float("inf")
        margins.append(float(logprobs[answer] - others.max()))
    return margins


def main(point: str) -> None:
    general = [p for p in map(json.loads, PROBES.read_text().splitlines()) if p["group"] == "general"]
    report = json.loads((RUNS / f"{point}.json").read_text())
    margins = each_model(point, lambda model, tokenizer: first_token_margins(model, tokenizer, general))
    rows = []
    for index, probe in enumerate(general):
        row = {"prompt": probe["prompt"], "answer": probe["answer"]}
        for name in ("baseline", "unlearned"):
            row[f"{name}_hit"] = next(r["hit"] for r in report["details"][name]["probes"] if r["prompt"] == probe["prompt"])
            row[f"{name}_margin"] = margins[name][index]
        rows.append(row)
    result = {"point": point, "probes": rows}
    (HERE / "probe_margins.json").write_text(json.dumps(result, indent=1) + "\n")
    (HERE / "probe_margins.md").write_text(summary(result))


def summary(result: dict) -> str:
    rows = sorted(result["probes"], key=lambda r: r["baseline_margin"])
    answered = [r for r in rows if r["baseline_hit"]]
    lost = [r for r in answered if not r["unlearned_hit"]]
    thin = max((r["baseline_margin"] for r in lost), default=0.0)
    lines = [
        f"# General-knowledge probes, one by one: point {result['point']}",
        "",
        f"Written by `python experiments/macbeth/probe_margins.py {result['point']}`. The baseline answers "
        f"{len(answered)} of {len(rows)}, the unlearned model {len(answered) - len(lost)} of those: {len(lost)} lost. "
        f"Of the {len(answered)}, {sum(r['baseline_margin'] <= thin for r in answered)} have a first-token margin of at most "
        f"{thin:.2f} nats, the widest among those lost.",
        "",
        "| prompt | answer | baseline's margin, nats | unlearned model's margin | answered after |",
        "|---|---|---|---|---|",
        *(
            f"| {r['prompt']} | {r['answer']} | {r['baseline_margin']:.2f} | {r['unlearned_margin']:.2f} | "
            f"{'yes' if r['unlearned_hit'] else 'no'} |"
            for r in answered
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else POINT)
