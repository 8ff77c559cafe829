"""Which probes a run's unlearning got wrong: the retain facts it lost and the target facts it kept.

    python experiments/toy_world/flips.py RUN_FOLDER [--cache-dir DIR] [--out FILE]

Reads RUN_FOLDER/report.json, loads its baseline and unlearned model from the cache, and
completes every recall probe with each (with the probes evaluator's settings). Writes a table
(relation, prompt, answer, the two completions) of the retain probes the baseline answered
and the unlearned model does not, and of the forget probes the unlearned model still
answers, to --out (default: flips.md beside this script).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from omegaconf import DictConfig
from transformers import AutoModelForCausalLM, AutoTokenizer

from unlearn.config import compose_config
from unlearn.evaluation.generation import complete
from unlearn.files import read_jsonl


def completions(folder: Path, prompts: list[str], settings: DictConfig) -> list[str]:
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    return complete(model, tokenizer, prompts, settings.max_new_tokens, settings.batch_size, "probes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "unlearn")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "flips.md")
    args = parser.parse_args()
    report = json.loads((args.run / "report.json").read_text())
    keys = {stage: entry["key"] for stage, entry in report["cache"].items()}
    probes = [p for p in read_jsonl(args.cache_dir / "target" / keys["target"] / "probes.jsonl") if p["kind"] == "recall"]
    prompts = [p["prompt"] for p in probes]
    settings = compose_config(["paths.output_dir=."]).evaluator.probes
    before, after = (completions(args.cache_dir / stage / keys[stage], prompts, settings) for stage in ("baseline", "unlearn"))
    sections = {"retain probes lost": [], "forget probes kept": []}
    for probe, base, unlearned in zip(probes, before, after, strict=True):
        if probe["split"] == "retain" and probe["answer"] in base and probe["answer"] not in unlearned:
            sections["retain probes lost"].append((probe, base, unlearned))
        if probe["split"] == "forget" and probe["answer"] in unlearned:
            sections["forget probes kept"].append((probe, base, unlearned))
    lines = [f"Run {args.run.name} (report.json's cache keys); greedy completions of {settings.max_new_tokens} tokens.", ""]
    for title, rows in sections.items():
        lines += [f"{title} ({len(rows)}):", "", "| relation | prompt | answer | baseline | unlearned |", "|---|---|---|---|---|"]
        lines += [f"| {p['relation']} | {p['prompt']} | {p['answer']} | {b.strip()} | {u.strip()} |" for p, b, u in rows]
        lines.append("")
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
