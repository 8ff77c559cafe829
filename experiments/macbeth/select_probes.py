"""Choose Macbeth's probes by what the baseline really knows: every candidate in
unlearn/targets/macbeth/probe_candidates.jsonl is completed greedily by the baseline of
`model=smollm2` (the run's own completion code and settings), and the ones it answers
become unlearn/targets/macbeth/probes.jsonl. Writes probe_selection.md beside this file:
each candidate, the baseline's completion, and whether it was kept.

    python experiments/macbeth/select_probes.py

A probe the baseline cannot answer measures nothing: unlearning cannot lose it, and
keeping it would dilute forget recall toward zero before anything was forgotten.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
SHIPPED = HERE.parent.parent / "unlearn" / "targets" / "macbeth"


def main() -> None:
    from hydra.utils import instantiate

    from unlearn.components import prepare
    from unlearn.config import compose_config
    from unlearn.evaluation.generation import complete
    from unlearn.pipeline import stage_runner

    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", "target.probes=null", "stages=[]", f"paths.output_dir={scratch}"])
        prepared = prepare(cfg)
        folder = stage_runner(cfg, prepared).baseline(prepared.parts.model, prepared.target).ref
        model, tokenizer = prepared.parts.model.load(str(folder))
        source = "/".join(filter(None, (Path(prepared.parts.model.name_or_path).name, prepared.parts.model.gguf_file)))
    probes = instantiate(cfg.evaluator.probes)
    candidates = [json.loads(line) for line in (SHIPPED / "probe_candidates.jsonl").read_text().splitlines()]
    completions = complete(model, tokenizer, [c["prompt"] for c in candidates], probes.max_new_tokens, probes.batch_size, "probes")
    kept = [c for c, text in zip(candidates, completions, strict=True) if c["answer"] in text]
    (SHIPPED / "probes.jsonl").write_text("".join(json.dumps(c) + "\n" for c in kept))

    asked, answered = Counter(c["group"] for c in candidates), Counter(c["group"] for c in kept)
    lines = [
        "# Macbeth probes: what the baseline answers",
        "",
        f"Written by `python {Path(__file__).relative_to(HERE.parent.parent)}`: the baseline of `model=smollm2` "
        f"({source}), greedy, "
        f"{probes.max_new_tokens} new tokens; a probe is kept when its answer is in the completion.",
        "",
        "| group | candidates | kept |",
        "|---|---|---|",
        *(f"| {g} | {asked[g]} | {answered[g]} |" for g in asked),
        "",
        "| kept | group | prompt | answer | baseline's completion |",
        "|---|---|---|---|---|",
    ]
    for c, text in zip(candidates, completions, strict=True):
        cells = [("yes" if c["answer"] in text else ""), c["group"], c["prompt"], c["answer"], text]
        lines.append("| " + " | ".join(json.dumps(x)[1:-1].replace("|", "\\|") for x in cells) + " |")
    (HERE / "probe_selection.md").write_text("\n".join(lines) + "\n")
    print(dict(answered), "of", dict(asked), file=sys.stderr)


if __name__ == "__main__":
    main()
