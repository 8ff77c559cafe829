"""Choosing the toy world's unlearning schedule: epochs x learning rate, over seeds 0-2.

    python experiments/toy_world/schedule.py [--cache-dir DIR] [--out DIR] [key=value ...]

Each seed trains its own baseline (about 5 minutes each, cached); each schedule is then
a short fine-tune. Writes schedule.json and schedule.md here: per schedule and seed, the
unlearned model's forget recall, retain recall drop and generic perplexity increase, and
whether the three acceptance criteria hold (forget <= 0.10, retain drop <= 0.05,
perplexity up <= 10%).
"""

from __future__ import annotations

import json

from runner import acceptance, experiment_arguments, run_variant

SEEDS = (0, 1, 2)
SCHEDULES = (
    (2, 1e-4), (3, 8e-5), (3, 1e-4), (2, 1.5e-4), (3, 1.2e-4), (3, 1.5e-4), (4, 1.2e-4), (5, 1e-4), (5, 1.1e-4), (6, 8e-5), (6, 9e-5),
)  # fmt: skip


def main() -> None:
    args = experiment_arguments(__doc__)
    cache_dir, out, common = args.cache_dir, args.out, args.overrides
    rows = []
    for epochs, lr in SCHEDULES:
        for seed in SEEDS:
            overrides = [f"seed={seed}", f"unlearn.epochs={epochs}", f"unlearn.lr={lr}"]
            report = run_variant(cache_dir, out / "runs" / f"schedule_{epochs}_{lr:g}_{seed}", [*common, *overrides])
            row = {"epochs": epochs, "lr": lr, "seed": seed, **acceptance(report["models"]["baseline"], report["models"]["unlearned"])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    (out / "schedule.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| epochs | lr | " + " | ".join(f"seed {s}: forget / retain drop / ppl up" for s in SEEDS) + " | seeds meeting all |"]
    lines.append("|---|---|" + "---|" * len(SEEDS) + "---|")
    for epochs, lr in SCHEDULES:
        cells = [r for r in rows if (r["epochs"], r["lr"]) == (epochs, lr)]
        text = [
            f"{r['forget_recall']:.3f} / {r['retain_drop']:.3f} / {100 * r['perplexity_up']:+.1f}%" + (" (met)" if r["met"] else "")
            for r in cells
        ]
        lines.append(f"| {epochs} | {lr:g} | " + " | ".join(text) + f" | {sum(r['met'] for r in cells)} |")
    (out / "schedule.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
