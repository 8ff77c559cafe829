"""The experiment scripts still import against the package: a renamed function must not leave
an experiment that fails only when someone tries to reproduce it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HANG_GUARD_S
from unlearn.machine import described

SCRIPTS = sorted(Path("experiments").glob("*/*.py"))
LOAD_EACH = """
import runpy, sys
for script in sys.argv[1:]:
    sys.path.insert(0, script.rsplit("/", 1)[0])
    runpy.run_path(script, run_name="imported_by_test")
    sys.path.pop(0)
"""


def test_every_experiment_script_loads():
    assert len(SCRIPTS) >= 6
    done = subprocess.run([sys.executable, "-c", LOAD_EACH, *map(str, SCRIPTS)], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-2000:]


def test_perf_readme_quotes_the_sharding_measurement():
    """experiments/perf/README.md shows the table sharding.py wrote, and what it says of it holds:
    FSDP2 holds about half per process of what DDP holds, and peaks lower."""
    perf = Path("experiments/perf")
    recorded = json.loads((perf / "sharding.json").read_text())
    table = (perf / "sharding.md").read_text().split("\n\n", 1)[1].strip()
    assert table in (perf / "README.md").read_text()
    assert 0.45 <= recorded["fsdp_over_ddp"]["held"] <= 0.55
    assert recorded["fsdp_over_ddp"]["peak_resident"] < 0.9


def test_memory_readme_quotes_the_measurement():
    """experiments/memory/README.md shows the table measure.py wrote, and what it says of it
    holds: the chunked loss, activation checkpointing, pieces of fewer tokens and the allocator
    each lower the peak, smaller loss chunks do not; one block a piece (the recipe's) is well
    within budget and no slower than the whole batch; the losses do not depend on the setting;
    adapters hold less than every weight trained, but not much less: the activations are the same."""
    folder = Path("experiments/memory")
    recorded = json.loads((folder / "results.json").read_text())
    table = (folder / "results.md").read_text().split("\n\n", 1)[1].strip()
    assert table in (folder / "README.md").read_text()
    budget = recorded["budget_bytes"]
    rows = [r for r in recorded["rows"] if not r["adapters"]]
    (adapters,) = [r for r in recorded["rows"] if r["adapters"]]
    peak = {(r["loss_chunk_tokens"], r["activation_checkpointing"], r["micro_batch_tokens"], r["malloc_returns_memory"]): r for r in rows}
    settings = [(0, False, False), (2048, False, False), (2048, True, False), (2048, True, True)]
    whole, chunked, recomputed, returned = (peak[(c, a, 0, m)]["peak_resident"] for c, a, m in settings)
    assert whole > chunked > recomputed > returned
    pieces = [peak[(2048, False, tokens, False)]["peak_resident"] for tokens in (2048, 1024, 512)]
    assert chunked > pieces[0] > pieces[1] > pieces[2] and peak[(2048, False, 1024, True)]["peak_resident"] < pieces[1]
    assert peak[(1024, False, 1024, False)]["peak_resident"] >= 0.98 * pieces[1], "smaller loss chunks save nothing more"
    assert pieces[2] <= 0.8 * budget and abs(pieces[1] - budget) <= 0.05 * budget < recomputed - budget
    assert peak[(2048, False, 512, False)]["seconds"] <= 1.1 * peak[(2048, False, 0, False)]["seconds"]
    for row in rows:
        assert row["losses"] == pytest.approx(rows[0]["losses"], rel=1e-6)
    assert adapters["losses"][0] == pytest.approx(rows[0]["losses"][0], rel=1e-6), "the adapters start as the identity"
    every_weight = peak[(adapters["loss_chunk_tokens"], False, adapters["micro_batch_tokens"], False)]["peak_resident"]
    held = recorded["held_bytes"] * 3 / 4  # the gradients and AdamW's two moments that adapters do not keep
    assert every_weight - held < adapters["peak_resident"] < every_weight
    gb = 1e9
    readme = " ".join((folder / "README.md").read_text().split())
    assert f"peak at {adapters['peak_resident'] / gb:.2f} GB against {every_weight / gb:.2f} GB" in readme
    quoted = f"{whole / gb:.1f} GB with neither, {chunked / gb:.1f} GB with the chunked loss, {pieces[2] / gb:.1f} GB in pieces"
    assert quoted in " ".join(Path("README.md").read_text().split()), "the README quotes results.json"


def test_macbeth_results_are_written_from_the_copied_reports():
    """experiments/macbeth/results.md is what sweep.py writes from reports/*.json, and what its
    README says of them holds: only the discovered dictionary's points with the embeddings left
    as they are meet every criterion, and the generic labels differ from the text's own next
    token at most positions (what limits the trade-off)."""
    import runpy

    sweep = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")
    folder = Path("experiments/macbeth")
    assert (folder / "results.md").read_text() == sweep["summarize"]()
    reports = {p.stem: json.loads(p.read_text()) for p in sorted((folder / "reports").glob("*.json"))}
    assert len(reports) >= 3
    met = {point for point, r in reports.items() if all(sweep["verdicts"](r["models"]).values())}
    assert met == {"soft_logprobs_auto_noembed_lr3e-4_seed1", "soft_logprobs_auto_noembed_retainprose_lr5e-4_seed2"}
    assert all(r["labels"]["changed_fraction"] > 0.7 for r in reports.values())
    by_point = {p.stem: json.loads(p.read_text())["models"] for p in (folder / "reports").glob("*.json")}

    def change(point: str, metric: str) -> tuple[float, float]:
        return by_point[point]["baseline"][metric], by_point[point]["unlearned"][metric]

    prose, knowledge, general = "perplexity/generic_heldout", "lm_eval/general_knowledge/acc", "probe/retain_general_recall"
    for point in ("soft_lr1e-4", "soft_lr3e-4"):
        before, after = change(point, prose)
        assert after <= 1.15 * before and change(point, "probe/forget_recall")[1] == 10 / 16
        assert (
            change(point, knowledge)[0] - change(point, knowledge)[1]
            > change("unlearn_lr1e-4", knowledge)[0] - change("unlearn_lr1e-4", knowledge)[1]
        )
    assert change("unlearn_lr1e-4", prose)[1] > 1.15 * change("unlearn_lr1e-4", prose)[0]
    assert change("soft_lr1e-4", general)[1] == change("soft_lr1e-4", general)[0]


def test_readme_on_the_recipe_across_seeds():
    """The README's summary of the recipe's point on three seeds is what the reports say."""
    readme = " ".join(Path("README.md").read_text().split())
    models = [json.loads(Path(f"experiments/macbeth/reports/soft_logprobs_lr3e-4{s}.json").read_text())["models"]
              for s in ("", "_seed1", "_seed2")]  # fmt: skip
    answered = [_forget_probes_answered(f"soft_logprobs_lr3e-4{s}") for s in ("", "_seed1", "_seed2")]
    assert answered[0] == answered[1] == answered[2] and len(answered[0]) == 8
    drops = [1 - m["unlearned"]["familiarity_probability/score"] / m["baseline"]["familiarity_probability/score"] for m in models]
    assert f"familiarity down by {drops[0]:.0%}, {drops[1]:.0%} and {drops[2]:.0%}" in readme
    prose = "perplexity/generic_heldout"
    assert all(m["unlearned"][prose] <= 1.15 * m["baseline"][prose] for m in models)
    knowledge = [m["baseline"]["lm_eval/general_knowledge/acc"] - m["unlearned"]["lm_eval/general_knowledge/acc"] for m in models]
    assert knowledge[0] > 0.05 >= max(knowledge[1:]) and f"loses {knowledge[0]:.2f} of lm-eval's" in readme
    lost = [len(_general_probes_lost(f"soft_logprobs_lr3e-4{s}")) for s in ("", "_seed1", "_seed2")]
    assert lost[0] == 0 and f"lose {lost[1]} and {lost[2]} of the 18 probes" in readme
    auto = [json.loads(Path(f"experiments/macbeth/reports/soft_logprobs_auto_lr3e-4{s}.json").read_text())["models"]
            for s in ("", "_seed1", "_seed2")]  # fmt: skip
    shares = [m["unlearned"]["familiarity_probability/score"] / m["baseline"]["familiarity_probability/score"] for m in auto]
    assert f"({shares[1]:.0%} and {shares[2]:.0%}; {shares[0]:.0%} on seed 0)" in readme
    seed2 = models[2]["unlearned"]
    assert _general_probes_lost("soft_logprobs_lr3e-4_seed2") == ["Jupiter", "plants"]
    knowledge2 = seed2["lm_eval/general_knowledge/acc"]
    quoted = (f"familiarity {seed2['familiarity_probability/score']:.3f}, lm-eval within 0.05 ({knowledge2:.3f}), "
              f"2 general probes lost (Jupiter, \"plants\"), ordinary prose {seed2[prose]:.2f}")  # fmt: skip
    assert quoted in " ".join(Path("experiments/macbeth/README.md").read_text().split())


def test_macbeth_tradeoff_figure_places_each_point_as_its_verdicts_say():
    """tradeoff.png's coordinates: a point lies inside a criterion's bound exactly when sweep.py's
    verdict says the criterion holds; the figure is in the repository beside results.md."""
    import runpy

    sweep = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")
    points = {p["point"]: p for p in sweep["tradeoff"]()}
    assert (Path("experiments/macbeth") / "tradeoff.png").stat().st_size > 10_000
    inside = {
        "familiarity <= 50%": lambda p: p["familiarity"] <= 0.5,
        "probes <= half": lambda p: p["forget probes"] <= 0.5,
        "general probes lose <= 1": lambda p: p["general probes lost"] <= 1,
        "lm-eval within 0.05": lambda p: p["lm-eval change"] >= -0.05,
        "prose perplexity <= +15%": lambda p: p["prose perplexity"] <= 1.15,
    }
    for path in sorted(Path("experiments/macbeth/reports").glob("*.json")):
        verdicts = sweep["verdicts"](json.loads(path.read_text())["models"])
        point = points[path.stem]
        assert {k: inside[k](point) for k in verdicts} == verdicts, path.stem
        assert point["criteria met"] == sum(verdicts.values())


def _macbeth_report(point: str) -> dict:
    return json.loads(Path(f"experiments/macbeth/reports/{point}.json").read_text())


def _forget_probes_answered(point: str) -> list[str]:
    report = _macbeth_report(point)
    return sorted(row["answer"] for row in report["details"]["unlearned"]["probes"] if row["split"] == "forget" and row["hit"])


def test_macbeth_readme_on_the_alpha_and_low_lr_points():
    """What experiments/macbeth/README.md says of soft_lr3e-5 and the two alphas holds in their
    reports: the low lr keeps lm-eval and forgets less; alpha hardly moves the forget side, and
    the same 11 forget probes, completions English or general knowledge gives, survive both."""
    folder = Path("experiments/macbeth")
    models = {p.stem: json.loads(p.read_text())["models"] for p in (folder / "reports").glob("*.json")}
    readme = " ".join((folder / "README.md").read_text().split())

    def pair(point: str, metric: str) -> tuple[float, float]:
        return models[point]["baseline"][metric], models[point]["unlearned"][metric]

    knowledge, familiarity, probes = "lm_eval/general_knowledge/acc", "familiarity_probability/score", "probe/forget_recall"
    before, after = pair("soft_lr3e-5", knowledge)
    assert before - after <= 0.05 and f"({before:.3f} -> {after:.3f})" in readme
    assert pair("soft_lr3e-5", probes)[1] == 12 / 16 and f"falls only to {pair('soft_lr3e-5', familiarity)[1]:.3f}" in readme
    low, high = "soft_alpha2.5_lr1e-4", "soft_alpha10_lr1e-4"
    fallen = [pair(point, familiarity)[1] for point in (low, high, "soft_lr1e-4")]
    assert f"familiarity {fallen[0]:.3f} and {fallen[1]:.3f} ({fallen[2]:.3f} at alpha 5)" in readme
    assert pair(low, probes)[1] == pair(high, probes)[1] == 11 / 16
    assert all(pair(p, knowledge)[0] - pair(p, knowledge)[1] > 0.05 for p in (low, high))
    assert f"({pair(low, knowledge)[1]:.3f} and {pair(high, knowledge)[1]:.3f})" in readme
    related = "perplexity/related_heldout"
    assert pair(low, related)[1] < pair("soft_lr1e-4", related)[1] < pair(high, related)[1]
    survivors = _forget_probes_answered(low)
    assert survivors == _forget_probes_answered(high)
    assert survivors == sorted(["me", "hand", "hand", "fair", "fair", "air", "Shakespeare", "Scotland", "Sisters", "Sisters", "serpent"])


def test_macbeth_readme_on_labels_combined_as_log_probabilities(monkeypatch):
    """label_scales.md is what label_scales.py writes from its JSON, and the README quotes it: the
    log-probability combination moves the generic distribution far less from the baseline's and
    pushes the forget answers it reaches lower. Its two sweep points: at lr 1e-4 the forgetting of
    raw logits at a lower cost to other text; at lr 3e-4 half the forget probes remain, which no
    point on raw logits reached, with every general probe and ordinary prose within 15%."""
    import runpy

    folder = Path("experiments/macbeth")
    monkeypatch.syspath_prepend(str(folder))  # label_scales.py reads sweep.py's settings, as a script beside it does
    scales = runpy.run_path(str(folder / "label_scales.py"), run_name="imported_by_test")
    recorded = json.loads((folder / "label_scales.json").read_text())
    assert (folder / "label_scales.md").read_text() == scales["summary"](recorded)
    readme = " ".join((folder / "README.md").read_text().split())
    raw, log_probs = recorded["scales"]["logits"], recorded["scales"]["log_probs"]
    assert log_probs["mean_kl_from_baseline"] < 0.25 * raw["mean_kl_from_baseline"] and log_probs["argmax_changed"] < raw["argmax_changed"]
    for scale in (raw, log_probs):
        assert f"{scale['mean_kl_from_baseline']:.3f} nats" in readme and f"{scale['argmax_changed']:.1%}" in readme

    def at(before: str, answer: str) -> dict:
        (entry,) = [p for p in recorded["probes"] if " ".join(p["context"].split()).endswith(before) and p["answer"] == answer]
        return entry

    me, kindness, fair = at("which I see before", "me"), at("the milk of human", "kindness"), at("and foul is", "fair")
    assert "me 0.154 -> 0.012" in readme and (round(me["logits"], 3), round(me["log_probs"], 3)) == (0.154, 0.012)
    assert (round(kindness["logits"], 3), round(kindness["log_probs"], 3)) == (0.101, 0.0) and "kindness 0.101 -> 0.000" in readme
    assert round(fair["log_probs"], 3) == 0.648 and (round(fair["baseline_translated"], 3), round(fair["reinforced"], 3)) == (0.652, 0.686)
    models = {p.stem: json.loads(p.read_text())["models"] for p in (folder / "reports").glob("*.json")}

    def after(point: str, metric: str) -> float:
        return models[point]["unlearned"][metric]

    forget, prose, related = "probe/forget_recall", "perplexity/generic_heldout", "perplexity/related_heldout"
    assert after("soft_logprobs_lr1e-4", forget) == 11 / 16
    assert after("soft_logprobs_lr1e-4", related) < 0.85 * after("soft_lr1e-4", related)
    assert after("soft_logprobs_lr1e-4", prose) < after("soft_lr1e-4", prose)
    best = models["soft_logprobs_lr3e-4"]
    assert best["unlearned"][forget] == 8 / 16 and not any(m["unlearned"][forget] <= 0.5 for p, m in models.items() if "logprobs" not in p)
    assert best["unlearned"]["probe/retain_general_recall"] == 1.0 and best["unlearned"][prose] <= 1.15 * best["baseline"][prose]
    assert "the related plays 35.6" in readme and round(best["unlearned"][related], 1) == 35.6
    survivors = ["me", "fair", "fair", "air", "Sisters", "Sisters", "Shakespeare", "Scotland"]
    assert _forget_probes_answered("soft_logprobs_lr3e-4") == sorted(survivors)
    seed1 = models["soft_logprobs_lr3e-4_seed1"]
    assert _forget_probes_answered("soft_logprobs_lr3e-4_seed1") == sorted(survivors)
    assert f"familiarity {seed1['unlearned']['familiarity_probability/score']:.3f}" in readme
    knowledge = [seed1[m]["lm_eval/general_knowledge/acc"] for m in ("baseline", "unlearned")]
    assert knowledge[0] - knowledge[1] <= 0.05 and f"({knowledge[0]:.3f} -> {knowledge[1]:.3f})" in readme
    assert (
        round(seed1["unlearned"]["probe/retain_general_recall"] * 18) == 15
        and seed1["unlearned"]["probe/retain_shakespeare_recall"] == 4 / 7
    )
    assert f"ordinary prose 19.23 -> {seed1['unlearned'][prose]:.2f}" in readme


def _general_probes_lost(point: str, model: str = "unlearned") -> list[str]:
    general = {p["prompt"] for p in map(json.loads, Path("unlearn/targets/macbeth/probes.jsonl").read_text().splitlines())
               if p.get("group") == "general"}  # fmt: skip
    report = _macbeth_report(point)
    return [row["answer"] for row in report["details"][model]["probes"] if row["prompt"] in general and not row["hit"]]


def test_macbeth_readme_on_labels_inside_anchors_by_word():
    """By word, the labels make the model forget "weird" -> "sisters" as the play writes it, far
    more than the paper's do, while the familiarity prompt's capitalised form hardly moves;
    familiarity falls a little on both seeds, the same forget probes remain."""
    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    measured = json.loads((folder / "anchor_inside.json").read_text())
    (dreamt,) = [i for i, r in enumerate(measured["readings"]) if r["ends"].endswith("last night of the three weird")]
    prompt = [r["where"] for r in measured["readings"]].index("familiarity prompt")
    after = measured["unlearned"]
    for i, ends in ((dreamt, '" sisters" falls from'), (prompt, '" Sisters" goes from')):
        values = [after[f"soft_logprobs{kind}_lr3e-4{seed}"][i] for kind in ("_byword", "") for seed in ("", "_seed1")]
        quoted = f"{ends} {measured['baseline'][i]:.3f} to {values[0]:.3f} "
        assert quoted in readme and f"(seed 1: {values[1]:.3f})" in readme
        assert f"leave {values[2]:.3f} ({values[3]:.3f})" in readme
    assert after["soft_logprobs_byword_lr3e-4"][dreamt] < 0.1 * after["soft_logprobs_lr3e-4"][dreamt]
    assert after["soft_logprobs_byword_lr3e-4"][prompt] > 0.8
    for seed in ("", "_seed1"):
        byword = json.loads((folder / "reports" / f"soft_logprobs_byword_lr3e-4{seed}.json").read_text())
        without = json.loads((folder / "reports" / f"soft_logprobs_lr3e-4{seed}.json").read_text())
        familiarity = [r["models"]["unlearned"]["familiarity_probability/score"] for r in (byword, without)]
        share = familiarity[0] / byword["models"]["baseline"]["familiarity_probability/score"]
        assert familiarity[0] < familiarity[1] and share > 0.5 and f"{familiarity[0]:.3f} ({familiarity[1]:.3f} without)" in readme
        assert f"{share:.0%}" in readme
        assert _forget_probes_answered(f"soft_logprobs_byword_lr3e-4{seed}") == _forget_probes_answered(f"soft_logprobs_lr3e-4{seed}")
    assert (
        f"({json.loads((folder / 'reports' / 'soft_logprobs_byword_lr3e-4.json').read_text())['labels']['labelled_fraction']:.1%};"
        in readme
    )
    assert _general_probes_lost("soft_logprobs_byword_lr3e-4") == ["plants"] and _general_probes_lost("soft_logprobs_lr3e-4") == []
    assert _general_probes_lost("soft_logprobs_byword_lr3e-4_seed1") == _general_probes_lost("soft_logprobs_lr3e-4_seed1")


def test_macbeth_readme_on_the_recipe_with_the_discovered_dictionary():
    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    auto, hand = (json.loads((folder / "reports" / f"soft_logprobs{kind}_lr3e-4.json").read_text())["models"] for kind in ("_auto", ""))
    familiarity = [r["unlearned"]["familiarity_probability/score"] for r in (auto, hand)]
    share = familiarity[0] / auto["baseline"]["familiarity_probability/score"]
    assert f"familiarity {familiarity[0]:.3f} ({familiarity[1]:.3f} with the hand-written dictionary), {share:.0%}" in readme
    remaining = [len(_forget_probes_answered(f"soft_logprobs{kind}_lr3e-4")) for kind in ("_auto", "")]
    assert f"{remaining[0]} of the 16 forget probes remain ({remaining[1]})" in readme
    assert set(_forget_probes_answered("soft_logprobs_auto_lr3e-4")) - set(_forget_probes_answered("soft_logprobs_lr3e-4")) == {"hand"}
    report = json.loads((folder / "reports" / "soft_logprobs_auto_lr3e-4.json").read_text())
    (kept,) = [
        p["prompt"] for p in report["details"]["unlearned"]["probes"] if p["split"] == "forget" and p["hit"] and p["answer"] == "hand"
    ]
    assert kept.endswith("the handle toward my") and '"the handle toward my" hand among them' in readme
    assert _general_probes_lost("soft_logprobs_auto_lr3e-4") == ["plants"]
    for metric, digits in (("lm_eval/general_knowledge/acc", 3), ("perplexity/generic_heldout", 2), ("perplexity/related_heldout", 1)):
        assert f"{auto['unlearned'][metric]:.{digits}f} ({hand['unlearned'][metric]:.{digits}f})" in readme
    import runpy

    verdicts = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")["verdicts"]
    for seed in (0, 1, 2):
        suffix = f"_seed{seed}" if seed else ""
        cells = []
        for kind in ("_auto", ""):
            report = json.loads((folder / "reports" / f"soft_logprobs{kind}_lr3e-4{suffix}.json").read_text())
            after, before = report["models"]["unlearned"], report["models"]["baseline"]
            (weird,) = [r["p_idiosyncratic"] for r in report["details"]["unlearned"]["familiarity_probability"]
                        if r["prompt"].endswith("called the Weird")]  # fmt: skip
            cells.append([
                f"{after['familiarity_probability/score'] / before['familiarity_probability/score']:.0%}", f"{weird:.3f}",
                str(len(_forget_probes_answered(f"soft_logprobs{kind}_lr3e-4{suffix}"))),
                str(len(_general_probes_lost(f"soft_logprobs{kind}_lr3e-4{suffix}"))),
                f"{after['lm_eval/general_knowledge/acc']:.3f}", f"{after['perplexity/generic_heldout']:.2f}",
            ])  # fmt: skip
        assert f"| {seed} | " + " | ".join(f"{a} ({h})" for a, h in zip(*cells, strict=True)) + " |" in readme
        met = verdicts(json.loads((folder / "reports" / f"soft_logprobs_auto_lr3e-4{suffix}.json").read_text())["models"])
        if seed:
            assert [k for k, ok in met.items() if not ok] == ["general probes lose <= 1"]
            assert _general_probes_lost(f"soft_logprobs_auto_lr3e-4{suffix}") == ["Mercury", "plants"]
        else:
            assert not met["familiarity <= 50%"]
    under = sorted(
        path.stem
        for path in (folder / "reports").glob("*.json")
        if verdicts(json.loads(path.read_text())["models"])["familiarity <= 50%"] and "noembed" not in path.stem
    )
    assert under == [
        "soft_logprobs_auto_lr2e-4_seed1",
        "soft_logprobs_auto_lr3e-4_seed1",
        "soft_logprobs_auto_lr3e-4_seed2",
        "soft_logprobs_auto_no_witches_lr3e-4_seed1",
    ]
    assert "so far under the criterion's 50% familiarity (two variants of these runs below are too, and two with the embeddings" in readme
    no_witches = json.loads((folder / "reports" / "soft_logprobs_auto_no_witches_lr3e-4_seed1.json").read_text())
    after, before = no_witches["models"]["unlearned"], no_witches["models"]["baseline"]
    (weird,) = [r["p_idiosyncratic"] for r in no_witches["details"]["unlearned"]["familiarity_probability"]
                if r["prompt"].endswith("called the Weird")]  # fmt: skip
    share = after["familiarity_probability/score"] / before["familiarity_probability/score"]
    assert f'still brings familiarity to {share:.0%} of the baseline\'s and "the Weird" Sisters to {weird:.3f}' in readme
    assert _general_probes_lost("soft_logprobs_auto_no_witches_lr3e-4_seed1") == ["Mercury", "plants"]
    assert f"lm-eval {after['lm_eval/general_knowledge/acc']:.3f})" in readme
    dictionary = (folder / "dictionaries" / "auto_seed1_without_witches.yaml").read_text()
    assert '\n"Witches":' not in dictionary and '\n"Macbeth":' in dictionary


def _share(point: str) -> str:
    models = _macbeth_report(point)["models"]
    return f"{models['unlearned']['familiarity_probability/score'] / models['baseline']['familiarity_probability/score']:.0%}"


def _outcome_cells(point: str) -> list[str]:
    """A point's cells in the README's tables of the unlearned model: familiarity as a share of
    the baseline's, forget probes still answered, general probes lost, lm-eval, ordinary prose's
    and the related plays' perplexity."""
    after = _macbeth_report(point)["models"]["unlearned"]
    return [
        _share(point),
        str(len(_forget_probes_answered(point))),
        ", ".join(_general_probes_lost(point)) or "none",
        f"{after['lm_eval/general_knowledge/acc']:.3f}",
        f"{after['perplexity/generic_heldout']:.2f}",
        f"{after['perplexity/related_heldout']:.1f}",
    ]


def _prompt_probability(point: str, ends: str) -> float:
    report = _macbeth_report(point)
    (p,) = [r["p_idiosyncratic"] for r in report["details"]["unlearned"]["familiarity_probability"] if r["prompt"].endswith(ends)]
    return p


def test_macbeth_readme_on_what_holds_the_forget_side_up(monkeypatch):
    """The two answers that carry familiarity: labelled away and forgotten in the play, kept
    after the prompt (carriers.json, which carriers.py writes from the sweep's cache); the
    labels of the discovered dictionary are the same on every seed while the prompt differs;
    and the four variants (alpha 10 and 20, blocks of 128, the discovered dictionary at lr
    2e-4) as the README says of them."""
    import runpy

    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    monkeypatch.syspath_prepend(str(folder))
    carriers = runpy.run_path(str(folder / "carriers.py"), run_name="imported_by_test")
    measured = json.loads((folder / "carriers.json").read_text())
    assert (folder / "carriers.md").read_text() == carriers["summary"](measured, carriers["POINTS"])
    assert sorted(measured["unlearned"]) == sorted(carriers["POINTS"])
    readings = measured["readings"]
    sisters = [i for i, r in enumerate(readings) if r["answer"] == " sisters"]
    (me,) = [i for i, r in enumerate(readings) if r["answer"] == " me" and r["where"] != "familiarity prompt"]
    auto = [f"soft_logprobs_auto_lr3e-4{seed}" for seed in ("", "_seed1", "_seed2")]
    labels = [measured["label"][point][i] for point in auto for i in sisters]
    assert all(label is not None for label in labels) and max(labels) < 0.02
    assert f'its label gives " sisters" at most {max(labels):.3f} on every seed' in readme
    for point in ("soft_logprobs_lr3e-4", "soft_logprobs_lr3e-4_seed1", "soft_logprobs_lr3e-4_seed2"):
        assert all(measured["label"][point][i] is None for i in sisters)
    in_play = max(measured["unlearned"][point][i] for point in auto for i in sisters)
    assert in_play < 0.02 and f"(at most {in_play:.3f} at the four occurrences)" in readme
    prompts = [_prompt_probability(point, "called the Weird") for point in auto]
    assert max(prompts) - min(prompts) > 0.5
    assert f"is then {prompts[0]:.3f}, {prompts[1]:.3f} and {prompts[2]:.3f} on seeds 0, 1 and 2" in readme
    recipe = "soft_logprobs_lr3e-4"
    label, in_play, prompt_me = measured["label"][recipe][me], measured["unlearned"][recipe][me], _prompt_probability(recipe, "see before")
    assert label < 0.1 * measured["baseline"][me] and in_play < 0.5 * measured["baseline"][me] and prompt_me > 0.5
    assert (
        f'label gives " me" {label:.3f} (the baseline gave it {measured["baseline"][me]:.3f} in the play); the unlearned model '
        f"gives {in_play:.3f} there, and {prompt_me:.3f} after the prompt alone" in readme
    )
    labels_me = [measured["label"][point][me] for point in carriers["POINTS"]]
    play_me = [measured["unlearned"][point][me] for point in carriers["POINTS"]]
    prompts_me = [_prompt_probability(point, "see before") for point in carriers["POINTS"]]
    assert f"at most {max(labels_me):.3f} and every unlearned model at most {max(play_me):.3f} in the play" in readme
    assert f"none falls under {min(prompts_me):.3f}" in readme
    sweep = runpy.run_path(str(folder / "sweep.py"), run_name="imported_by_test")
    alphas = [f"soft_logprobs_alpha{alpha}_lr3e-4" for alpha in (10, 20)]
    quoted = [f"{measured['unlearned'][a][me]:.3f}" for a in alphas] + [f"{_prompt_probability(a, 'see before'):.3f}" for a in alphas]
    assert (
        f"neither the play's \"me\" ({quoted[0]} and {quoted[1]}; {play_me[0]:.3f}) nor the prompt's ({quoted[2]} and {quoted[3]}; "
        f"{prompt_me:.3f})" in readme
    )
    assert f"familiarity {_share(alphas[0])} and {_share(alphas[1])} of the baseline's (63% at alpha 5)" in readme
    assert _share(recipe) == "63%"
    for point in alphas:
        assert _forget_probes_answered(point) == _forget_probes_answered(recipe)
        assert not sweep["verdicts"](json.loads((folder / "reports" / f"{point}.json").read_text())["models"])["familiarity <= 50%"]
    assert _general_probes_lost(alphas[0]) == ["plants"] and _general_probes_lost(alphas[1]) == ["Jupiter", "Mercury", "plants"]
    related = [json.loads((folder / "reports" / f"{p}.json").read_text())["models"]["unlearned"]["perplexity/related_heldout"]
               for p in (*alphas, recipe)]  # fmt: skip
    assert related[2] < related[0] < related[1]
    assert f"general probes lost 1 and 3, the related plays {related[0]:.1f} and {related[1]:.1f} ({related[2]:.1f})" in readme
    context = "soft_logprobs_context128_lr3e-4"
    assert _prompt_probability(context, "see before") < prompt_me
    assert f"({_prompt_probability(context, 'see before'):.3f}; {prompt_me:.3f} on blocks of 512)" in readme
    assert set(_forget_probes_answered(context)) - set(_forget_probes_answered(recipe)) == {"kindness"}
    assert _general_probes_lost(context) == ["Mercury", "plants"]
    assert (
        f"familiarity is {_share(context)}, {len(_forget_probes_answered(context))} forget probes remain" in readme
        and "and 2 general probes are lost" in readme
    )
    stronger = json.loads((folder / "reports" / "soft_logprobs_reinforce1e-4_lr3e-4.json").read_text())["models"]
    usual = json.loads((folder / "reports" / f"{recipe}.json").read_text())["models"]
    knows = [m["reinforced"][k] for k in ("familiarity_probability/score", "perplexity/target_heldout") for m in (stronger, usual)]
    assert knows[0] > knows[1] and knows[2] < knows[3]
    assert (
        f"(familiarity {knows[0]:.3f} against {knows[1]:.3f}, the held-out act's perplexity {knows[2]:.2f} against {knows[3]:.2f})"
        in readme
    )
    assert _forget_probes_answered("soft_logprobs_reinforce1e-4_lr3e-4") == _forget_probes_answered(recipe)
    assert _general_probes_lost("soft_logprobs_reinforce1e-4_lr3e-4") == []
    after = [m["unlearned"][k] for k in ("lm_eval/general_knowledge/acc", "perplexity/generic_heldout") for m in (stronger, usual)]
    assert (
        f"forgets no more: familiarity {_share('soft_logprobs_reinforce1e-4_lr3e-4')} ({_share(recipe)})" in readme
        and f"lm-eval {after[0]:.3f} ({after[1]:.3f}), ordinary prose {after[2]:.2f} ({after[3]:.2f})" in readme
    )
    lower = [f"soft_logprobs_auto_lr2e-4{seed}" for seed in ("_seed1", "_seed2")]
    higher = [f"soft_logprobs_auto_lr3e-4{seed}" for seed in ("_seed1", "_seed2")]
    for low, high in zip(lower, higher, strict=True):
        assert _general_probes_lost(low) == ["Mercury", "plants"] and int(_share(low)[:-1]) > int(_share(high)[:-1])
    knowledge = [json.loads((folder / "reports" / f"{p}.json").read_text())["models"]["unlearned"]["lm_eval/general_knowledge/acc"]
                 for p in lower]  # fmt: skip
    assert (
        f"familiarity {_share(lower[0])} and {_share(lower[1])} ({_share(higher[0])} and {_share(higher[1])} at lr 3e-4), "
        f"lm-eval {knowledge[0]:.3f} and {knowledge[1]:.3f}" in readme
    )
    under = [p.stem for p in (folder / "reports").glob("*.json")
             if sweep["verdicts"](json.loads(p.read_text())["models"])["familiarity <= 50%"] and "noembed" not in p.stem]  # fmt: skip
    assert all(_general_probes_lost(point) == ["Mercury", "plants"] for point in under)


def test_macbeth_readme_on_retain_blocks():
    """The retain-block table is the reports' numbers; each retain text keeps its own domain
    better than the recipe and the control with as many steps (the prose on three seeds), both
    forget more at seed 0 but the prose not on every other seed, lm-eval stays within one
    question of the control's, and the near-tie general probes fall wherever the table says."""
    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    points = {
        "soft_logprobs_lr3e-4": "soft_logprobs_lr3e-4 (the recipe) | none",
        "soft_logprobs_epochs5_lr3e-4": "soft_logprobs_epochs5_lr3e-4 | none (5 epochs)",
        "soft_logprobs_retainprose_lr3e-4": "soft_logprobs_retainprose_lr3e-4 | `retain_prose/` ({blocks} blocks, {tokens:,} tokens)",
        "soft_logprobs_retain18_lr3e-4": "soft_logprobs_retain18_lr3e-4 | *The Tempest*, act 1 ({blocks} blocks, {tokens:,} tokens)",
    }
    for seed in ("_seed1", "_seed2"):
        points[f"soft_logprobs_lr3e-4{seed}"] = f"soft_logprobs_lr3e-4{seed} (the recipe) | none"
        points[f"soft_logprobs_retainprose_lr3e-4{seed}"] = points["soft_logprobs_retainprose_lr3e-4"].replace(" |", f"{seed} |", 1)
    reports = {point: json.loads((folder / "reports" / f"{point}.json").read_text()) for point in points}
    after = {point: report["models"]["unlearned"] for point, report in reports.items()}
    for point, start in points.items():
        labels = reports[point]["labels"]
        text = start.format(blocks=labels.get("retain_blocks"), tokens=labels.get("retain_tokens", 0))
        row = [text, str(len(reports[point]["losses"]["unlearned"])), *_outcome_cells(point)]
        assert f"| {' | '.join(row)} |" in readme
    control, prose, tempest = "soft_logprobs_epochs5_lr3e-4", "soft_logprobs_retainprose_lr3e-4", "soft_logprobs_retain18_lr3e-4"
    baseline = reports[control]["models"]["baseline"]
    prose_perplexity = "perplexity/generic_heldout"
    assert after[prose][prose_perplexity] < baseline[prose_perplexity] < after[control][prose_perplexity]
    related = {
        path.stem: json.loads(path.read_text())["models"]["unlearned"]["perplexity/related_heldout"]
        for path in (folder / "reports").glob("*.json")
    }
    assert min(related, key=related.get) == tempest
    seeds = [("soft_logprobs_lr3e-4" + seed, prose + seed) for seed in ("", "_seed1", "_seed2")]
    for recipe_point, prose_point in seeds:
        assert after[prose_point][prose_perplexity] < after[recipe_point][prose_perplexity]
        assert after[prose_point][prose_perplexity] <= 1.03 * baseline[prose_perplexity]
    shares = [(int(_share(prose_point)[:-1]), int(_share(recipe_point)[:-1])) for recipe_point, prose_point in seeds[1:]]
    assert any(mine > theirs for mine, theirs in shares) and f"forgets {shares[0][0]}% and {shares[1][0]}% against the recipe's" in readme
    for point in (prose, tempest):
        assert int(_share(point)[:-1]) < int(_share(control)[:-1])
        assert _prompt_probability(point, "see before") < _prompt_probability(control, "see before")
        assert abs(after[point]["lm_eval/general_knowledge/acc"] - after[control]["lm_eval/general_knowledge/acc"]) <= 1 / 48 + 1e-9
    assert (
        f"falls to {_prompt_probability(prose, 'see before'):.3f} and {_prompt_probability(tempest, 'see before'):.3f} "
        f"({_prompt_probability(control, 'see before'):.3f})" in readme
    )
    for point in set(points) - {"soft_logprobs_lr3e-4"}:
        assert {"Mercury", "Jupiter"} & set(_general_probes_lost(point)) and 2 <= len(_general_probes_lost(point)) <= 3

    def reinforced(point: str) -> tuple[list[str], float]:
        report = json.loads((folder / "reports" / f"{point}.json").read_text())
        assert len(report["losses"]["reinforced"]) == len(reports["soft_logprobs_lr3e-4"]["losses"]["unlearned"]) == 20
        return _general_probes_lost(point, "reinforced"), report["models"]["reinforced"]["lm_eval/general_knowledge/acc"]

    knowledge = reports[control]["models"]["baseline"]["lm_eval/general_knowledge/acc"]
    gentle = [reinforced(point) for point in (control, "soft_logprobs_lr3e-4_seed1", "soft_logprobs_lr3e-4_seed2")]
    assert all(lost == [] for lost, _ in gentle)
    assert reinforced("soft_logprobs_reinforce1e-4_lr3e-4") == (["Mercury", "plants", "Paris"], knowledge)
    assert _general_probes_lost("soft_logprobs_lr1e-4") == [] and "(the unlearning fine-tune at lr 1e-4 keeps all 18" in readme
    low, high = min(acc for _, acc in gentle), max(acc for _, acc in gentle)
    assert f"with lm-eval {low:.3f} to {high:.3f} at lr 3e-5 and the baseline's {knowledge:.3f} at lr 1e-4" in readme


def test_macbeth_readme_on_labels_inside_anchors():
    """Labelling inside anchors labels more positions but forgets less: "the Weird" Sisters stays
    higher and familiarity with it, the same forget probes remain, utility about the same."""
    folder = Path("experiments/macbeth")
    reports = {p.stem: json.loads(p.read_text()) for p in (folder / "reports").glob("*logprobs*lr3e-4.json")}
    inside, without = reports["soft_logprobs_inside_lr3e-4"], reports["soft_logprobs_lr3e-4"]
    readme = " ".join((folder / "README.md").read_text().split())
    assert inside["labels"]["labelled_fraction"] > without["labels"]["labelled_fraction"]
    assert f"{without['labels']['labelled_fraction']:.1%} of the positions are labelled without it and " in readme
    assert f"{inside['labels']['labelled_fraction']:.1%} with it" in readme

    def weird(report: dict, model: str) -> float:
        (row,) = [r for r in report["details"][model]["familiarity_probability"] if r["prompt"].endswith("also called the Weird")]
        return row["p_idiosyncratic"]

    assert weird(without, "unlearned") < weird(inside, "unlearned") < weird(inside, "baseline")
    quoted = f"Sisters {weird(inside, 'baseline'):.3f} -> {weird(inside, 'unlearned'):.3f} ({weird(without, 'unlearned'):.3f} without)"
    assert quoted in readme
    seed1 = {
        name: json.loads((folder / "reports" / f"{name}_seed1.json").read_text())
        for name in ("soft_logprobs_inside_lr3e-4", "soft_logprobs_lr3e-4")
    }
    inside1, without1 = seed1["soft_logprobs_inside_lr3e-4"], seed1["soft_logprobs_lr3e-4"]
    assert weird(without1, "unlearned") < weird(inside1, "unlearned")
    assert f"Sisters {weird(inside1, 'unlearned'):.3f} ({weird(without1, 'unlearned'):.3f} without)" in readme
    familiarity1 = [r["models"]["unlearned"]["familiarity_probability/score"] for r in (inside1, without1)]
    assert familiarity1[0] > familiarity1[1] and f"familiarity {familiarity1[0]:.3f} ({familiarity1[1]:.3f} without)" in readme
    assert _forget_probes_answered("soft_logprobs_inside_lr3e-4_seed1") == _forget_probes_answered("soft_logprobs_lr3e-4")
    knowledge1 = [r["models"]["unlearned"]["lm_eval/general_knowledge/acc"] for r in (inside1, without1)]
    lost1 = [round((1 - r["models"]["unlearned"]["probe/retain_general_recall"]) * 18) for r in (inside1, without1)]
    assert f"({lost1[0]} general probes lost instead of {lost1[1]}, lm-eval {knowledge1[0]:.3f} instead of {knowledge1[1]:.3f})" in readme
    metric = {name: report["models"]["unlearned"] for name, report in reports.items() if name != "soft_logprobs_lr3e-4_seed1"}
    familiarity = [metric[p]["familiarity_probability/score"] for p in ("soft_logprobs_inside_lr3e-4", "soft_logprobs_lr3e-4")]
    assert familiarity[0] > familiarity[1] and f"familiarity {familiarity[0]:.3f} ({familiarity[1]:.3f} without)" in readme
    assert _forget_probes_answered("soft_logprobs_inside_lr3e-4") == _forget_probes_answered("soft_logprobs_lr3e-4")
    prose = [metric[p]["perplexity/generic_heldout"] for p in ("soft_logprobs_inside_lr3e-4", "soft_logprobs_lr3e-4")]
    assert f"ordinary prose {prose[0]:.2f} ({prose[1]:.2f} without)" in readme
    related = [metric[p]["perplexity/related_heldout"] for p in ("soft_logprobs_inside_lr3e-4", "soft_logprobs_lr3e-4")]
    assert f"the related plays {related[0]:.1f} ({related[1]:.1f} without)" in readme
    with_it, without_it = metric["soft_logprobs_inside_lr3e-4"], metric["soft_logprobs_lr3e-4"]
    assert with_it["lm_eval/general_knowledge/acc"] == without_it["lm_eval/general_knowledge/acc"]
    assert with_it["probe/retain_general_recall"] == 1.0


def test_macbeth_readme_on_general_probe_margins(monkeypatch):
    """probe_margins.md is what probe_margins.py writes from its JSON, its answers agree with the
    point's report, and the probes lost are exactly the thinnest margins but one, as the README says."""
    import runpy

    folder = Path("experiments/macbeth")
    monkeypatch.syspath_prepend(str(folder))
    margins = runpy.run_path(str(folder / "probe_margins.py"), run_name="imported_by_test")
    recorded = json.loads((folder / "probe_margins.json").read_text())
    assert (folder / "probe_margins.md").read_text() == margins["summary"](recorded)
    report = json.loads((folder / "reports" / f"{recorded['point']}.json").read_text())
    general = report["models"]["unlearned"]["probe/retain_general_recall"]
    rows = sorted(recorded["probes"], key=lambda r: r["baseline_margin"])
    assert sum(r["unlearned_hit"] for r in rows) == round(general * len(rows)) and all(r["baseline_hit"] for r in rows)
    lost = [r for r in rows if not r["unlearned_hit"]]
    assert [r["answer"] for r in lost] == ["Mercury", "Jupiter", "plants"] and all(r["unlearned_margin"] < 0 for r in lost)
    assert all(r["unlearned_hit"] for r in rows[4:])
    readme = " ".join((folder / "README.md").read_text().split())
    named = ("the planet closest to the sun", "the largest planet", "the leaves of plants")
    quoted = ", ".join(f"{name} {row['baseline_margin']:.2f}" for name, row in zip(named, lost, strict=True))
    assert f"at most {lost[2]['baseline_margin']:.2f} nats ({quoted})" in readme


def test_anchors_auto_on_macbeth_quotes_its_measurement():
    folder = Path("experiments/anchors_auto")
    recorded = json.loads((folder / "macbeth.json").read_text())
    quoted = f"precision {recorded['precision']:.2f}, recall {recorded['recall']:.2f}"
    assert quoted in (folder / "macbeth.md").read_text()
    readme = " ".join((folder / "README.md").read_text().split())
    assert f"it finds {recorded['found']} terms, {quoted.replace(', recall', ' and recall')}" in readme
    top = " ".join(Path("README.md").read_text().split())
    assert f"On Macbeth with SmolLM2 it finds {recorded['found']} terms, {quoted.replace(', recall', ' and recall')}" in top
    spelt = ["BANQUO", "MACDUFF", "LADY MACBETH", "DONALBAIN", "FLEANCE", "Lennox", "Ross", "thane", "Lords", "Thence"]
    assert set(spelt) <= set(recorded["dictionary"]) and {"Lords", "Thence"} <= set(recorded["wrong"])
    assert recorded["found"] == len(recorded["dictionary"])
    names = {"Duncan", "Malcolm", "Angus", "Hecate"}
    assert names | {n.upper() for n in names} <= set(recorded["dictionary"]) and {"God", "Witches"} <= set(recorded["wrong"])
    assert recorded["precision"] >= 0.7 and recorded["recall"] >= 0.7
    assert set(recorded["missed"]) == {"Fife", "Norway", "Scone", "Siward", "thanes", "Witch", "WITCH", "weird sisters", "Inverness"}


@pytest.mark.parametrize("target", ["toy_world", "macbeth"])
def test_comparison_table_is_rewritten_unchanged_from_the_recorded_reports(tmp_path, monkeypatch, target):
    import runpy

    compare = runpy.run_path("experiments/comparison/compare.py", run_name="imported_by_test")
    folder = Path("experiments/comparison")
    monkeypatch.setitem(compare["summarize"].__globals__, "HERE", tmp_path)
    shutil.copytree(folder / "reports", tmp_path / "reports")
    compare["summarize"](target)
    assert (tmp_path / f"{target}.md").read_text() == (folder / f"{target}.md").read_text()
    assert (tmp_path / f"{target}.png").is_file()


def _attack_on_whp(rows: dict) -> str:
    def moved(name: str) -> str:
        row = rows[f"whp ({name} labels)"]
        return (
            f"{name} labels: familiarity {row['familiarity_probability/score']:.3f} -> {row['relearn/familiarity_probability/score']:.3f}, "
            f"forget recall {row['probe/forget_recall']:.3f} -> {row['relearn/probe/forget_recall']:.3f}"
        )

    return f"  {moved('hard')}; {moved('soft')}."


def test_comparison_readme_statements_on_the_toy_world():
    """The README's toy-world statements hold in the reports compare.py recorded: WHP (hard
    and soft labels) forgets while keeping the retain world and ordinary text, which no
    baseline at the learning rates tried nor inference-time WHP does; the relearning attack
    brings some back."""
    import runpy

    compare = runpy.run_path("experiments/comparison/compare.py", run_name="imported_by_test")
    folder = Path("experiments/comparison")
    reports, runs = _comparison_reports(compare, folder)
    rows = {row["method"]: row for row in compare["rows"](reports, runs)}
    base = rows["baseline"]

    def forgets_and_keeps(row: dict) -> bool:
        return (
            row["probe/forget_recall"] <= 0.1
            and row["probe/retain_recall"] >= 0.8
            and row["perplexity/generic_heldout"] <= 2 * base["perplexity/generic_heldout"]
        )

    for name in ("whp (hard labels)", "whp (soft labels)"):
        whp = rows[name]
        assert forgets_and_keeps(whp) and whp["perplexity/generic_heldout"] <= 1.1 * base["perplexity/generic_heldout"]
        assert whp["relearn/familiarity_probability/score"] > whp["familiarity_probability/score"], "familiarity rises"
        assert whp["relearn/probe/forget_recall"] <= whp["probe/forget_recall"], "no forget probe comes back"
    assert f"<!-- attack -->\n{_attack_on_whp(rows)}\n<!-- end attack -->" in (folder / "README.md").read_text()
    baselines = [row for name, row in rows.items() if name.startswith(("gradient", "npo"))]
    assert len(baselines) == 9 and not any(forgets_and_keeps(row) for row in baselines)
    assert not forgets_and_keeps(rows["whp_inference"])
    soft, hard = reports["whp_soft"]["timings_s"], reports["whp"]["timings_s"]
    quoted = (
        f"took\n{soft['labels']:.1f} s with soft labels and {hard['labels']:.1f} s with hard ones, "
        f"and the unlearning fine-tune {soft['unlearn']:.1f} s and\n{hard['unlearn']:.1f} s"
    )
    assert quoted in (folder / "README.md").read_text()


def test_comparison_readme_statements_on_macbeth():
    """The README's statements on the real play hold in the reports compare.py recorded."""
    import runpy

    compare = runpy.run_path("experiments/comparison/compare.py", run_name="imported_by_test")
    reports, runs = _comparison_reports(compare, Path("experiments/comparison"), "macbeth")
    models = {name: reports[method]["models"][model] for method, (_, shown) in runs.items() for model, name in shown.items()}
    base = models["baseline"]
    forget, familiarity, retain = "probe/forget_recall", "familiarity_probability/score", "probe/retain_recall"
    prose = "perplexity/generic_heldout"
    shakespeare, related, benchmark = "probe/retain_shakespeare_recall", "perplexity/related_heldout", "lm_eval/general_knowledge/acc"
    baselines = ("gradient_ascent", "gradient_difference", "npo")
    assert set(runs) == {"whp", "whp_soft", *(f"{m}_lr{lr}" for m in baselines for lr in ("1e-05", "0.0001"))}

    def keeps_utility(m: dict) -> bool:
        return m[retain] >= 0.9 and m[prose] <= 2 * base[prose]

    assert not any(m[forget] <= 0.5 and m[familiarity] <= 0.5 * base[familiarity] and keeps_utility(m) for m in models.values())
    partial = [models[n] for n in ("whp (hard labels)", "whp (soft labels)", "whp_inference", "npo (lr 0.0001)")]
    for m in partial:
        assert 0.56 <= m[forget] <= 0.63 and 0.19 <= 1 - m[familiarity] / base[familiarity] <= 0.465
        assert m[retain] >= 0.92 and m[prose] <= 1.31 * base[prose]
    whp, npo = models["whp (hard labels)"], models["npo (lr 0.0001)"]
    assert npo[forget] == whp[forget] and npo[retain] == whp[retain] and npo[familiarity] < whp[familiarity]
    assert npo[benchmark] == base[benchmark] and 3 <= npo[related] / whp[related] < 4
    difference = models["gradient_difference (lr 0.0001)"]
    assert all(difference[forget] < m[forget] and difference[familiarity] < m[familiarity] for m in partial)
    assert round(difference[forget], 2) == 0.19 and round(difference[familiarity], 3) == 0.033
    assert difference[prose] <= 1.1 * base[prose] and round(difference[shakespeare], 2) == 0.14 and round(whp[shakespeare], 2) == 0.86
    assert difference[related] > 1e6 * base[related]
    assert models["gradient_ascent (lr 0.0001)"][prose] > 1e6 * base[prose]
    slow = [models[f"{m} (lr 1e-05)"] for m in baselines]
    assert all(m[familiarity] >= 0.88 * base[familiarity] for m in slow) and models["npo (lr 1e-05)"][forget] == 1.0
    attacked = "relearn/" + familiarity
    assert (round(base[familiarity], 3), round(base[attacked], 3)) == (0.094, 0.191)
    assert all(m[familiarity] < m[attacked] < base[attacked] for name, m in models.items() if name != "baseline")


def test_comparison_resume_keeps_only_reports_of_the_same_command(tmp_path):
    """--resume keeps a method's report only when the same overrides recorded it on the same
    machine and libraries: a changed learning rate, target, override or machine runs it again."""
    import runpy

    compare = runpy.run_path("experiments/comparison/compare.py", run_name="imported_by_test")
    method = ["unlearn=npo", "unlearn.lr=1e-05"]
    command = compare["arguments"](method, "macbeth", ["experiment=macbeth"], ["unlearn.epochs=4"])
    assert command == ["target=macbeth", "evaluator=relearning", *method, "unlearn.epochs=4", "experiment=macbeth"]
    path, here, elsewhere = tmp_path / "npo.json", {"cpu": "Intel", "cores": 2}, {"cpu": "AMD", "cores": 2}
    assert compare["recorded"](path, command, here) is None
    report = {"models": {}, "compare": {"overrides": command, "seconds": 812.5, "machine": here}}
    path.write_text(json.dumps(report))
    assert compare["recorded"](path, command, here) == (report, 812.5)
    assert compare["recorded"](path, [*command[:3], "unlearn.lr=0.0001", *command[4:]], here) is None
    assert compare["recorded"](path, command, elsewhere) is None  # the table states one machine's seconds
    path.write_text(json.dumps({"models": {}}))
    assert compare["recorded"](path, command, here) is None


def _comparison_reports(compare: dict, folder: Path, target: str = "toy_world") -> tuple[dict, dict]:
    timing = json.loads((folder / "reports" / target / "seconds.json").read_text())
    runs = compare["methods"](timing["whp_lr"], tuple(timing["lr_factors"]))
    return {m: json.loads((folder / "reports" / target / f"{m}.json").read_text()) for m in runs}, runs


def test_the_cold_recipe_run_is_recorded_and_reproduces_its_sweep_point():
    """experiments/macbeth/recipe.md is what recipe.py writes from recipe.json; the cold
    run (fresh cache) measured what the sweep point it came from measured, metric for metric,
    within the peak memory and time it states."""
    import runpy

    recipe = runpy.run_path("experiments/macbeth/recipe.py", run_name="imported_by_test")
    folder = Path("experiments/macbeth")
    assert (folder / "recipe.md").read_text() == recipe["summary"]()
    cold = json.loads((folder / "recipe.json").read_text())
    point = json.loads((folder / "reports" / "soft_lr1e-4.json").read_text())
    # the sweep trained whole batches, the cold run in pieces (trainer.micro_batch_tokens): the
    # same updates up to the order floating point sums in
    assert cold["models"].keys() == point["models"].keys()
    for model, metrics in point["models"].items():
        assert cold["models"][model] == pytest.approx(metrics, rel=1e-5), model
    assert not any(entry["hit"] for entry in cold["cache"].values()), "cold: every stage built"
    assert cold["overrides"] == []
    # what experiments/macbeth/README.md says of it: a little over 25 minutes, a peak about a
    # tenth above the memory target (2 x (weights + gradients + AdamW state) + 1 GB,
    # experiments/memory); in pieces of one block, under the target but a quarter slower
    budget = json.loads(Path("experiments/memory/results.json").read_text())["budget_bytes"] / 2**30
    assert 25 * 60 < cold["wall_s"] <= 1.1 * 25 * 60 and budget < cold["peak_rss_gb"] <= 1.15 * budget
    one_block = json.loads((folder / "recipe_pieces_512.json").read_text())
    assert (folder / "recipe_pieces_512.md").read_text() == recipe["summary"]("recipe_pieces_512")
    assert one_block["overrides"] == ["trainer.micro_batch_tokens=512", "labels.batch_tokens=1024"]
    assert one_block["peak_rss_gb"] <= budget and one_block["wall_s"] > 1.2 * 25 * 60

    def fine_tunes(record: dict) -> float:
        return record["timings_s"]["reinforce"] + record["timings_s"]["unlearn"]

    assert fine_tunes(one_block) > 1.2 * fine_tunes(cold)


def test_the_cold_recipe_on_an_amd_epyc_reproduces_the_xeons_numbers_within_25_minutes():
    """recipe_amd_epyc.md is what recipe.py writes from its record: the cold recipe on another
    CPU, every metric of the Intel Xeon's run to within 0.003%, in under 25 minutes, at the
    same peak; its forget probes answered are those the alphas keep, less one phrasing of "hand"."""
    import runpy

    recipe = runpy.run_path("experiments/macbeth/recipe.py", run_name="imported_by_test")
    folder = Path("experiments/macbeth")
    assert (folder / "recipe_amd_epyc.md").read_text() == recipe["summary"]("recipe_amd_epyc")
    amd, xeon = (json.loads((folder / f"{name}.json").read_text()) for name in ("recipe_amd_epyc", "recipe"))
    assert amd["machine"]["cpu"] == "AMD EPYC" and "Xeon" in xeon["machine"]["cpu"] and amd["overrides"] == []
    assert not any(entry["hit"] for entry in amd["cache"].values()), "cold: every stage built"
    for model, metrics in xeon["models"].items():
        assert amd["models"][model] == pytest.approx(metrics, rel=3e-5), model
    assert amd["wall_s"] <= 25 * 60 and round(amd["peak_rss_gb"], 1) == round(xeon["peak_rss_gb"], 1)
    readme = " ".join((folder / "README.md").read_text().split())
    minutes, peak = f"{amd['wall_s'] / 60:.1f}", f"{amd['peak_rss_gb']:.1f}"
    assert f"`recipe_amd_epyc.md`): {minutes} minutes, within the 25, and the same peak of {peak} GB" in readme
    answered = sorted(r["answer"] for r in amd["details"]["unlearned"]["probes"] if r["split"] == "forget" and r["hit"])
    alphas = _forget_probes_answered("soft_alpha2.5_lr1e-4")
    alphas.remove("hand")
    assert answered == alphas and len(answered) == 10


def test_the_recipe_on_log_probabilities_cold_reproduces_its_sweep_point_within_25_minutes():
    """recipe_log_probs_amd_epyc.md is recipe.py's summary of its record: experiment=macbeth as
    it is now, cold on an AMD EPYC, in under 25 minutes, every metric of the sweep point it
    came from (soft_logprobs_lr3e-4), and the README quotes its time and peak."""
    import runpy

    recipe = runpy.run_path("experiments/macbeth/recipe.py", run_name="imported_by_test")
    folder = Path("experiments/macbeth")
    assert (folder / "recipe_log_probs_amd_epyc.md").read_text() == recipe["summary"]("recipe_log_probs_amd_epyc")
    cold = json.loads((folder / "recipe_log_probs_amd_epyc.json").read_text())
    point = json.loads((folder / "reports" / "soft_logprobs_lr3e-4.json").read_text())
    assert cold["machine"]["cpu"] == "AMD EPYC" and cold["overrides"] == []
    assert not any(entry["hit"] for entry in cold["cache"].values()), "cold: every stage built"
    for model, metrics in point["models"].items():
        assert cold["models"][model] == pytest.approx(metrics, rel=1e-5), model
    assert cold["wall_s"] <= 25 * 60
    readme = " ".join((folder / "README.md").read_text().split())
    minutes, peak = f"{cold['wall_s'] / 60:.1f}", f"{cold['peak_rss_gb']:.1f}"
    assert f"`recipe_log_probs_amd_epyc.md`): {minutes} minutes, within the 25, at a peak of {peak} GB" in readme
    pieces = json.loads((folder / "recipe_log_probs_pieces_512_amd_epyc.json").read_text())
    assert (folder / "recipe_log_probs_pieces_512_amd_epyc.md").read_text() == recipe["summary"]("recipe_log_probs_pieces_512_amd_epyc")
    assert pieces["overrides"] == ["trainer.micro_batch_tokens=512", "labels.batch_tokens=1024"] and pieces["machine"]["cpu"] == "AMD EPYC"
    assert not any(entry["hit"] for entry in pieces["cache"].values()), "cold: every stage built"
    budget = json.loads(Path("experiments/memory/results.json").read_text())["budget_bytes"] / 2**30
    assert pieces["wall_s"] <= 25 * 60 and pieces["peak_rss_gb"] <= budget
    for model, metrics in cold["models"].items():
        assert pieces["models"][model] == pytest.approx(metrics, rel=1e-5), model
    minutes, peak = f"{pieces['wall_s'] / 60:.1f}", f"{pieces['peak_rss_gb']:.1f}"
    assert f"once on this CPU: {minutes} minutes, peak {peak} GB against a target of {budget:.1f} GB" in readme


def test_with_the_heap_trimmed_the_label_stage_no_longer_raises_the_recipes_peak():
    """recipe_log_probs_xeon.md is recipe.py's summary of its record: the recipe cold on the
    Xeon after release_memory began trimming glibc's heap. Its label stage leaves the peak where
    reinforcement put it (the AMD EPYC's record before the trim rose there), its metrics are the
    AMD EPYC's, and the README quotes its peak and time (over 25 minutes on this CPU)."""
    import runpy

    recipe = runpy.run_path("experiments/macbeth/recipe.py", run_name="imported_by_test")
    folder = Path("experiments/macbeth")
    assert (folder / "recipe_log_probs_xeon.md").read_text() == recipe["summary"]("recipe_log_probs_xeon")
    trimmed, before = (json.loads((folder / f"{name}.json").read_text()) for name in ("recipe_log_probs_xeon", "recipe_log_probs_amd_epyc"))
    assert "Xeon" in trimmed["machine"]["cpu"] and trimmed["overrides"] == []
    assert not any(entry["hit"] for entry in trimmed["cache"].values()), "cold: every stage built"
    for model, metrics in before["models"].items():
        assert trimmed["models"][model] == pytest.approx(metrics, rel=1e-5), model
    peaks, old_peaks = trimmed["stage_peak_rss_gb"], before["stage_peak_rss_gb"]
    assert peaks["labels"] == peaks["reinforce"] and old_peaks["labels"] > old_peaks["reinforce"] + 0.5
    assert max(peaks.values()) == peaks["unlearn"] and trimmed["peak_rss_gb"] < before["peak_rss_gb"]
    budget = json.loads(Path("experiments/memory/results.json").read_text())["budget_bytes"] / 2**30
    assert trimmed["peak_rss_gb"] > budget and trimmed["wall_s"] > 25 * 60
    readme = " ".join((folder / "README.md").read_text().split())
    assert f"the label stage leaves the peak where reinforcement put it ({peaks['labels']:.2f} GB after both)" in readme
    assert f"the unlearning fine-tune's own, {trimmed['peak_rss_gb']:.1f} GB, still above the target" in readme
    assert f"It took {trimmed['wall_s'] / 60:.1f} minutes: over the 25 on this CPU" in readme
    previous = json.loads((folder / "recipe.json").read_text())["wall_s"]
    quoted = f"as the previous recipe did ({previous / 60:.1f} minutes, below), where the AMD EPYC takes {before['wall_s'] / 60:.1f}"
    assert quoted in readme


def test_lm_eval_margins_reproduce_the_task_and_show_the_lost_questions_were_near_ties(monkeypatch):
    """lm_eval_margins.md is what lm_eval_margins.py writes from its JSON; its accuracies are
    lm-eval's in the point's report, and what the README says holds: the questions lost are
    ones the baseline answered by at most 0.37 nats, and every wider margin is kept."""
    import runpy

    folder = Path("experiments/macbeth")
    margins = json.loads((folder / "lm_eval_margins.json").read_text())
    monkeypatch.syspath_prepend(str(folder))  # lm_eval_margins.py reads sweep.py's points, as a script beside it does
    script = runpy.run_path(str(folder / "lm_eval_margins.py"), run_name="imported_by_test")
    assert (folder / "lm_eval_margins.md").read_text() == script["summary"](margins)
    report = json.loads((folder / "reports" / f"{margins['point']}.json").read_text())["models"]
    for model in ("baseline", "unlearned"):
        assert margins[f"{model}_acc"] == pytest.approx(report[model]["lm_eval/general_knowledge/acc"])
    right = [q for q in margins["questions"] if q["baseline"] == q["gold"]]
    lost = [q for q in right if q["unlearned"] != q["gold"]]
    assert len(lost) == 5 and max(q["baseline_margin"] for q in lost) < 0.375
    assert sum(q["baseline_margin"] < 0.375 for q in right) == 7
    readme = " ".join((folder / "README.md").read_text().split())
    assert "the 5 questions this point loses are 5 of the 7 that the baseline answered by at most 0.37 nats" in readme


def test_in_pieces_of_one_block_the_recipe_on_an_amd_epyc_meets_time_and_memory_at_once():
    """recipe_pieces_512_amd_epyc.md is recipe.py's summary of its record: within 25 minutes and
    under the memory target on this CPU, the same metrics as in pieces of two blocks, while on
    the Intel Xeon the same pieces took well over 25 minutes."""
    import runpy

    recipe = runpy.run_path("experiments/macbeth/recipe.py", run_name="imported_by_test")
    folder = Path("experiments/macbeth")
    name = "recipe_pieces_512_amd_epyc"
    assert (folder / f"{name}.md").read_text() == recipe["summary"](name)
    pieces, whole, xeon = (json.loads((folder / f"{n}.json").read_text()) for n in (name, "recipe_amd_epyc", "recipe_pieces_512"))
    assert pieces["overrides"] == xeon["overrides"] == ["trainer.micro_batch_tokens=512", "labels.batch_tokens=1024"]
    assert pieces["machine"]["cpu"] == "AMD EPYC" and not any(entry["hit"] for entry in pieces["cache"].values())
    budget = json.loads(Path("experiments/memory/results.json").read_text())["budget_bytes"] / 2**30
    assert pieces["wall_s"] <= 25 * 60 and pieces["peak_rss_gb"] <= budget < whole["peak_rss_gb"]
    for model, metrics in whole["models"].items():
        assert pieces["models"][model] == pytest.approx(metrics, rel=2e-3), model
    readme = " ".join((folder / "README.md").read_text().split())
    quoted = f"{pieces['wall_s'] / 60:.1f} minutes, peak {pieces['peak_rss_gb']:.1f} GB against a target of {budget:.1f} GB"
    assert quoted in readme and f"to {xeon['wall_s'] / 60:.1f} minutes" in readme


def test_readmes_quote_the_seed_table_as_seeds_py_wrote_it(monkeypatch):
    """README.md's results paragraph and printed summary, and experiments/toy_world/README.md's
    table, are what seeds.py renders from seeds.json (rerun it after a change of the numbers)."""
    import runpy

    folder = Path("experiments/toy_world")
    monkeypatch.syspath_prepend(str(folder))
    seeds = runpy.run_path(str(folder / "seeds.py"), run_name="imported_by_test")
    results = json.loads((folder / "seeds.json").read_text())
    table = seeds["table_text"](results)
    assert (folder / "seeds.md").read_text() == table + "\n"
    for marker, passage in seeds["readme_passages"](results, table).items():
        readme = seeds["READMES"][marker].read_text()
        assert f"<!-- seeds.py: {marker} -->\n{passage}\n<!-- seeds.py: end {marker} -->" in readme, marker
    assert len(results["runs"]) == 5 and all(run["seed"] == seed for seed, run in enumerate(results["runs"]))


def test_toy_world_readme_quotes_the_determinism_and_margin_measurements():
    """experiments/toy_world/README.md shows the tables determinism.py and margin.py wrote, and
    what it says of them holds: one machine repeats a run bit for bit, while each change
    another machine brings (threads, CPU kernels, the transformers release) moves the weights."""
    folder = Path("experiments/toy_world")
    readme = (folder / "README.md").read_text()
    for name in ("determinism", "margin"):
        assert (folder / f"{name}.md").read_text().strip() in readme, name
    conditions = json.loads((folder / "determinism.json").read_text())["conditions"]
    assert conditions["reference"]["compared"]["max_weight_diff"] == 0.0
    assert conditions["the same, again"]["compared"]["max_weight_diff"] == 0.0
    assert conditions["transformers==5.23.0"]["transformers"] == "5.23.0"
    for name in ("the same, again", "1 thread instead of 2", "transformers==5.23.0"):
        assert conditions[name]["compared"]["max_weight_diff"] == 0.0, name
        assert conditions[name]["acceptance"] == conditions["reference"]["acceptance"], name
    kernels = [row for name, row in conditions.items() if "AVX2" in name]
    assert len(kernels) == 2
    for row in kernels:
        assert row["compared"]["max_weight_diff"] > 0 and row["compared"]["first_loss_step_differing"] > 0
        assert row["acceptance"] != conditions["reference"]["acceptance"]
    variants = json.loads((folder / "margin.json").read_text())["variants"]
    assert not any(variant["margin"]["holds"] for variant in variants.values())
    default, before = variants["default: unlearn 7 epochs"], variants["unlearn 6 epochs (the default before)"]
    assert default["overrides"] == [] and before["overrides"] == ["unlearn.epochs=6"]
    assert default["margin"]["worst"]["forget recall"] <= 0.10 < before["margin"]["worst"]["forget recall"]
    assert sum(row["met"] for row in default["seeds"]) > sum(row["met"] for row in before["seeds"])
    assert default["margin"]["means"]["retain loss"] > before["margin"]["means"]["retain loss"]
    soft = variants["7 epochs, soft labels"]["margin"]
    assert all(soft["means"][name] < default["margin"]["means"][name] for name in ("forget recall", "retain loss"))
    assert soft["worst"]["retain loss"] >= default["margin"]["worst"]["retain loss"]
    lost = (folder / "flips.md").read_text().split("forget probes kept")[0]
    rows = [line for line in lost.splitlines() if line.startswith("| ") and not line.startswith("| relation")]
    assert sum(row.startswith("| mentor |") for row in rows) > len(rows) / 2


def test_margin_resume_keeps_the_variants_recorded_with_the_same_overrides(tmp_path, monkeypatch):
    """margin.py --resume measures only the variants margin.json lacks or recorded with other
    overrides, and margin.json holds every variant measured so far after each one."""
    import runpy

    monkeypatch.syspath_prepend("experiments/toy_world")
    margin = runpy.run_path("experiments/toy_world/margin.py", run_name="imported_by_test")
    names = list(margin["VARIANTS"])[:3]
    variants = {name: margin["VARIANTS"][name] for name in names}
    ran: list[list[str]] = []

    def run_variant(cache_dir: str, run_dir: Path, overrides: list[str]) -> dict:
        ran.append(overrides)
        if len(ran) > 10:
            raise KeyboardInterrupt
        models = {"probe/forget_recall": 0.05, "probe/retain_recall": 0.9, "perplexity/generic_heldout": 3.0}
        return {"models": {"baseline": {**models, "probe/forget_recall": 0.9}, "unlearned": models}}

    main = margin["main"]
    monkeypatch.setitem(main.__globals__, "VARIANTS", variants)
    monkeypatch.setitem(main.__globals__, "run_variant", run_variant)
    monkeypatch.setattr(sys, "argv", ["margin.py", "--out", str(tmp_path), "--resume"])
    with pytest.raises(KeyboardInterrupt):  # interrupted in the third variant
        main()
    assert list(json.loads((tmp_path / "margin.json").read_text())["variants"]) == names[:2]
    ran.clear()
    variants[names[1]] = ["unlearn.epochs=9"]
    main()
    assert [overrides[-1] for overrides in ran] == ["unlearn.epochs=9"] * 5 + [*variants[names[2]][-1:]] * 5
    recorded = json.loads((tmp_path / "margin.json").read_text())["variants"]
    assert list(recorded) == names and recorded[names[1]]["overrides"] == ["unlearn.epochs=9"]
    assert (tmp_path / "margin.md").read_text().count("| holds |") == 3


def _h200_toy_summary(report: dict) -> str:
    baseline, unlearned, seconds = report["models"]["baseline"], report["models"]["unlearned"], report["timings_s"]
    names = {
        "forget recall": "probe/forget_recall",
        "retain recall": "probe/retain_recall",
        "generic perplexity": "perplexity/generic_heldout",
    }
    moved = [f"{name} {baseline[key]:.3f} -> {unlearned[key]:.3f}" for name, key in names.items()]
    return "; ".join([*moved, f"{sum(seconds.values()):.1f} s in all, {seconds['baseline']:.1f} s of it the baseline's pretraining."])


def test_perf_readme_quotes_what_the_h200_wrote():
    """experiments/perf/README.md quotes the H200's files: the toy world's run on the GPU (which
    forgot and kept what the toy world's criteria ask) and the Llama-2-7b bench's table."""
    folder = Path("experiments/perf/h200")
    readme = (Path("experiments/perf") / "README.md").read_text()
    report = json.loads((folder / "toy_report.json").read_text())
    assert _h200_toy_summary(report) in readme
    baseline, unlearned = report["models"]["baseline"], report["models"]["unlearned"]
    assert unlearned["probe/forget_recall"] <= 0.10 and baseline["probe/retain_recall"] - unlearned["probe/retain_recall"] <= 0.05
    assert (folder / "bench.md").read_text().strip() in readme
    assert json.loads((folder / "bench.json").read_text())["device"] == "NVIDIA H200"


def test_the_default_keeps_the_demos_margin_on_both_kernel_paths(monkeypatch):
    """Issue 19's margin over seeds 0-4 (every seed: forget recall <= 0.10, retain loss <= 0.05;
    the means <= 0.06 and <= 0.03) holds for the default world, told its retain facts 16 times,
    with torch's own kernels for this CPU and with the AVX2 ones another CPU would run
    (seeds_avx2.json, from its own cold cache); experiments/toy_world/README.md quotes both."""
    import runpy

    folder = Path("experiments/toy_world")
    monkeypatch.syspath_prepend(str(folder))
    runner = runpy.run_path(str(folder / "runner.py"), run_name="imported_by_test")
    seeds = runpy.run_path(str(folder / "seeds.py"), run_name="imported_by_test")
    readme = " ".join((folder / "README.md").read_text().split())
    found = {}
    for name in ("seeds", "seeds_avx2"):
        results = json.loads((folder / f"{name}.json").read_text())
        assert results["overrides"] == [] and [run["seed"] for run in results["runs"]] == [0, 1, 2, 3, 4], name
        acceptance = [run["acceptance"] for run in results["runs"]]
        found[name] = runner["margin"]([a["forget_recall"] for a in acceptance], [a["retain_drop"] for a in acceptance])
        assert found[name]["holds"], name
    avx2 = json.loads((folder / "seeds_avx2.json").read_text())
    assert avx2["machine"]["kernels"] == "AVX2" and not any(run["baseline_cached"] for run in avx2["runs"])
    assert " ".join(f"<!-- seeds_avx2 --> {seeds['table_text'](avx2)} <!-- end seeds_avx2 -->".split()) in readme
    worst = found["seeds"]["worst"]
    assert f"the worst seed's forget recall is {worst['forget recall']:.3f} and its retain loss {worst['retain loss']:.3f}." in readme
    retain = json.loads((folder / "seeds.json").read_text())["summary"]["baseline"]["probe/retain_recall"]["mean"]
    assert f"the baseline's retain recall is {retain:.2f} over the seeds" in readme
    before = json.loads((folder / "seeds_before_retain16.json").read_text())
    earlier = before["summary"]["baseline"]["probe/retain_recall"]["mean"]
    assert earlier < retain and f"(its retain recall was about {earlier:.2f}, not 1)" in readme
    assert json.loads((folder / "margin.json").read_text())["common"] == ["target.retain_reps=null"]


def _cold_start_sentence(record: dict) -> str:
    minutes, seconds = divmod(round(record["wall_s"]), 60)
    timings = record["timings_s"]
    return (
        f"{minutes} min {seconds} s wall clock on {described(record['machine']).split(';')[0]}: the run's own total "
        f"{sum(timings.values()):.1f} s, {timings['baseline']:.1f} s of it the baseline's pretraining; peak resident memory "
        f"{record['max_resident_kb'] / 1e6:.2f} GB."
    )


def test_perf_readme_quotes_the_default_runs_cold_start():
    """The default run from an empty cache fits its 5-minute budget on 2 cores, as cold_start.json recorded it."""
    record = json.loads(Path("experiments/perf/cold_start.json").read_text())
    assert record["wall_s"] <= 5 * 60
    readme = (Path("experiments/perf") / "README.md").read_text()
    assert f"<!-- cold_start -->\n{_cold_start_sentence(record)}\n<!-- end cold_start -->" in readme


def _perplexity_cost(records: dict[str, dict]) -> str:
    """What the 16 tellings cost on ordinary text, from the seed records of both kernel paths and of the world before."""

    def up(name: str) -> str:
        stat = records[name]["summary"]["acceptance"]["perplexity_up"]
        return f"{100 * stat['mean']:+.1f}% ± {100 * stat['sd']:.1f}"

    def perplexity(name: str, model: str) -> str:
        return f"{records[name]['summary'][model]['perplexity/generic_heldout']['mean']:.2f}"

    failed = [(name, run) for name in ("seeds", "seeds_avx2") for run in records[name]["runs"] if not run["acceptance"]["met"]]
    paths = {"seeds": "native", "seeds_avx2": "AVX2"}
    over = ", ".join(f"{paths[name]} seed {run['seed']} at {100 * run['acceptance']['perplexity_up']:+.1f}%" for name, run in failed)
    met = sum(run["acceptance"]["met"] for name in ("seeds", "seeds_avx2") for run in records[name]["runs"])
    return (
        f"**What it costs: ordinary text's perplexity.** Unlearning now raises it by {up('seeds')} with this machine's kernels "
        f"and {up('seeds_avx2')} with AVX2's, where it lowered it before ({up('seeds_before_retain16')}, "
        f"`seeds_before_retain16.md`). The toy world's third criterion (at most +10%) fails on {len(failed)} of the 10 runs "
        f"({over}), so all three criteria hold on {met} of 10. The unlearned models are no worse at ordinary text than before "
        f"(perplexity {perplexity('seeds', 'unlearned')} and {perplexity('seeds_avx2', 'unlearned')} on average, "
        f"{perplexity('seeds_before_retain16', 'unlearned')} before); the baselines are better ({perplexity('seeds', 'baseline')} "
        f"and {perplexity('seeds_avx2', 'baseline')}, {perplexity('seeds_before_retain16', 'baseline')} before), trained for "
        "more steps on the longer text, so the same result reads as a larger rise."
    )


def test_toy_world_readme_states_what_the_margin_costs():
    folder = Path("experiments/toy_world")
    records = {name: json.loads((folder / f"{name}.json").read_text()) for name in ("seeds", "seeds_avx2", "seeds_before_retain16")}
    readme = (folder / "README.md").read_text()
    assert f"<!-- perplexity cost -->\n{_perplexity_cost(records)}\n<!-- end perplexity cost -->" in readme
    over = sum(not run["acceptance"]["met"] for run in records["seeds_avx2"]["runs"])
    quoted = f"the generic perplexity of {over} of those 5 seeds rises past the +10% limit"
    assert quoted in " ".join(Path("README.md").read_text().split())


def _speaker_names_short_of_the_gain(record: dict) -> list[str]:
    limits = record["thresholds"]
    return [
        row["term"] for row in record["rows"]
        if row["term"].isupper() and row["candidate"] and row["rarity"] >= limits["min_rarity"] and row["gain"] < limits["min_gain"]
    ]  # fmt: skip


def test_anchors_readme_says_why_macbeths_terms_are_missed():
    """experiments/anchors_auto/README.md's diagnosis holds in macbeth_terms.json: the speaker
    names missed pass the rarity threshold and fall short of the gain, and the play's most
    famous names, which the baseline expects, fall short of the rarity."""
    folder = Path("experiments/anchors_auto")
    record = json.loads((folder / "macbeth_terms.json").read_text())
    rows = {row["term"]: row for row in record["rows"]}
    short = _speaker_names_short_of_the_gain(record)
    assert len(short) >= 5 and {"MACBETH", "BANQUO"} <= set(short)
    readme = " ".join((folder / "README.md").read_text().split())
    assert f"({', '.join(short)})" in readme
    assert all(rows[name]["rarity"] < record["thresholds"]["min_rarity"] for name in ("Macbeth", "Duncan", "Malcolm"))


def test_anchors_readme_quotes_the_threshold_grid_on_macbeth():
    """The grid in macbeth_terms.json backs every number of the README's paragraph on it, and no
    pair of thresholds reaches 0.7 precision and recall under any reading of the gain."""
    folder = Path("experiments/anchors_auto")
    record = json.loads((folder / "macbeth_terms.json").read_text())
    readme = " ".join((folder / "README.md").read_text().split())
    points = {reading: [p for p in record["grid"] if p["reading"] == reading] for reading in ("mean", "first token", "largest")}
    assert not any(p["precision"] >= 0.7 and p["recall"] >= 0.7 for p in record["grid"])
    precise = max((p for p in points["mean"] if p["precision"] >= 0.7), key=lambda p: p["recall"])
    assert f"is {precise['recall']:.2f} (min_rarity {precise['min_rarity']:g}, min_gain {precise['min_gain']:.1f})" in readme
    broad = max((p for p in points["mean"] if p["recall"] >= 0.5), key=lambda p: p["precision"])
    assert f"is {broad['precision']:.2f} (min_rarity {broad['min_rarity']:g}, min_gain {broad['min_gain']:.1f})" in readme
    assert f"its recall is at most {max(p['recall'] for p in points['first token']):.2f}" in readme
    assert f"recall up to {max(p['recall'] for p in points['largest']):.2f}" in readme
    best = max(p["precision"] for p in points["largest"] if p["recall"] >= 0.5)
    assert f"best precision at recall 0.5 or more is {best:.2f}" in readme
    every = record["every_candidate"]
    assert f"recall {every['recall']:.2f} (precision {every['precision']:.2f})" in readme
    assert f"over the corpus's {record['candidates']} candidate terms" in readme


def _epoch_losses(point: str) -> tuple[float, float]:
    """The unlearning fine-tune's mean loss over its first and its last epoch (5 steps each on the play)."""
    losses = _macbeth_report(point)["losses"]["unlearned"]
    assert len(losses) == 20
    return sum(losses[:5]) / 5, sum(losses[-5:]) / 5


def test_macbeth_readme_on_adapters():
    """The adapters table is the reports' numbers; on every seed adapters keep one general probe
    lost at most, ordinary prose within 15% and the related plays nearer the baseline than the
    recipe, and forget less; the recipe's loss rises above the gentle fine-tunes' and stays
    above; the discovered dictionary fitted at lr 1e-4 meets every utility criterion on every
    seed, forgetting less than the recipe and, on seeds 1 and 2, more than the hand-written
    labels fitted gently."""
    import runpy

    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    section = readme[readme.index("## Adapters") :]
    rows = {
        "soft_logprobs_lr1e-4": ("all", "1e-4"),
        "soft_logprobs_lr3e-4": ("all", "3e-4"),
        "soft_logprobs_lora_lr1e-3": ("adapters", "1e-3"),
        "soft_logprobs_lora_lr3e-3": ("adapters", "3e-3"),
        "soft_logprobs_auto_lr3e-4_seed1": ("all, discovered dictionary", "3e-4"),
        "soft_logprobs_auto_lora_lr1e-3_seed1": ("adapters, discovered dictionary", "1e-3"),
    }
    rows |= {f"soft_logprobs_auto_lr1e-4{seed}": ("all, discovered dictionary", "1e-4") for seed in ("", "_seed1", "_seed2")}
    for seed in ("_seed1", "_seed2"):
        rows |= {f"soft_logprobs_lr3e-4{seed}": ("all", "3e-4"), f"soft_logprobs_lora_lr1e-3{seed}": ("adapters", "1e-3")}
    for point, (weights, lr) in rows.items():
        first, last = _epoch_losses(point)
        row = [point, weights, lr, f"{first:.3f}", f"{last:.3f}", *_outcome_cells(point)]
        assert f"| {' | '.join(row)} |" in section

    sweep = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")

    def measured(point: str) -> dict[str, float]:
        return sweep["measures"](json.loads((folder / "reports" / f"{point}.json").read_text())["models"])

    def unlearned(point: str) -> dict[str, float]:
        return json.loads((folder / "reports" / f"{point}.json").read_text())["models"]["unlearned"]

    seeds = ("", "_seed1", "_seed2")
    adapters = {seed: measured(f"soft_logprobs_lora_lr1e-3{seed}") for seed in seeds}
    recipe = {seed: measured(f"soft_logprobs_lr3e-4{seed}") for seed in seeds}
    for seed in seeds:
        assert _general_probes_lost(f"soft_logprobs_lora_lr1e-3{seed}") == ["Mercury"]
        assert adapters[seed]["prose perplexity"] <= 1.08 and adapters[seed]["familiarity"] > recipe[seed]["familiarity"]
        related = "perplexity/related_heldout"
        assert unlearned(f"soft_logprobs_lora_lr1e-3{seed}")[related] < unlearned(f"soft_logprobs_lr3e-4{seed}")[related]
        recipe_first, recipe_last = _epoch_losses(f"soft_logprobs_lr3e-4{seed}")
        adapters_first, adapters_last = _epoch_losses(f"soft_logprobs_lora_lr1e-3{seed}")
        assert 0.10 <= recipe_first - adapters_first <= 0.145 and 0.02 <= recipe_last - adapters_last <= 0.045
    within = [abs(adapters[seed]["lm-eval change"]) <= 0.05 for seed in seeds]
    assert within == [True, True, False]
    assert "lm-eval ends 0.646, 0.646 and 0.625, within 0.05 on seeds 0 and 1 and one question outside it on seed 2" in section
    gentle = ["soft_logprobs_lr1e-4", *(f"soft_logprobs_lora_lr1e-3{seed}" for seed in seeds)]
    shares = sorted(measured(point)["familiarity"] for point in gentle)
    assert f"forget {shares[0]:.0%} to {shares[-1]:.0%}" in section and f"stop at {shares[0]:.0%} to {shares[-1]:.0%}" in section
    assert all(2.030 <= _epoch_losses(point)[1] <= 2.040 for point in gentle)
    assert _epoch_losses("soft_logprobs_lr3e-4")[1] > _epoch_losses("soft_logprobs_lr1e-4")[1]
    triple = measured("soft_logprobs_lora_lr3e-3")
    assert abs(triple["familiarity"] - adapters[""]["familiarity"]) < 0.02 and triple["general probes lost"] == 2
    assert triple["lm-eval change"] < adapters[""]["lm-eval change"]

    discovered = {seed: measured(f"soft_logprobs_auto_lr1e-4{seed}") for seed in seeds}
    for seed in seeds:
        fitted = discovered[seed]
        assert fitted["general probes lost"] <= 1 and abs(fitted["lm-eval change"]) <= 0.05 and fitted["prose perplexity"] <= 1.15
        assert recipe[seed]["familiarity"] < fitted["familiarity"]
    assert [_general_probes_lost(f"soft_logprobs_auto_lr1e-4{seed}") for seed in seeds] == [["Mercury"], [], ["plants"]]
    assert all(discovered[seed]["familiarity"] < shares[0] for seed in seeds[1:])
    assert abs(discovered[""]["familiarity"] - measured("soft_logprobs_lr1e-4")["familiarity"]) < 0.005
    lm_eval = [f"{unlearned(f'soft_logprobs_auto_lr1e-4{seed}')['lm_eval/general_knowledge/acc']:.3f}" for seed in seeds]
    assert f'(Mercury, none, "plants"), lm-eval {lm_eval[0]}, {lm_eval[1]} and {lm_eval[2]},' in section
    mine = sorted(discovered[seed]["familiarity"] for seed in seeds)
    assert f"It forgets to {mine[0]:.0%} to {mine[-1]:.0%} of the baseline's familiarity" in section
    assert f"at lr 3e-4 the same labels forget to {measured('soft_logprobs_auto_lr3e-4_seed1')['familiarity']:.0%}" in section
    theirs = sorted(recipe[seed]["familiarity"] for seed in seeds)
    assert f"forgets less than the recipe ({mine[0]:.0%} to {mine[-1]:.0%} against {theirs[0]:.0%} to {theirs[-1]:.0%})" in section
    discovered_adapters = measured("soft_logprobs_auto_lora_lr1e-3_seed1")
    assert _epoch_losses("soft_logprobs_auto_lora_lr1e-3_seed1")[1] > _epoch_losses("soft_logprobs_auto_lr1e-4_seed1")[1]
    assert discovered_adapters["familiarity"] > discovered["_seed1"]["familiarity"]
    assert _general_probes_lost("soft_logprobs_auto_lora_lr1e-3_seed1") == ["Mercury"]
    assert f"forget less ({discovered_adapters['familiarity']:.0%}), losing Mercury" in section
    top = " ".join(Path("README.md").read_text().split())
    own = sorted(adapters[seed]["familiarity"] for seed in seeds)
    assert f"forget less ({own[0]:.0%} to {own[-1]:.0%} of the baseline's familiarity)" in top
    assert f"forget less**: {own[0]:.0%} to {own[-1]:.0%} of the baseline's familiarity" in section
    assert f"fitted at lr 1e-4 forget to {mine[0]:.0%} to {mine[-1]:.0%} with every utility criterion met on each of three seeds" in top


def test_macbeth_readme_on_the_embeddings_left_as_they_are():
    """The table is the reports' numbers; each seed's pair shares its labels and reinforced model,
    so the embeddings are the only difference; left as they are, they keep Mercury, the
    nearest near-tie, on every seed, and seed 1 meets all five criteria."""
    import runpy

    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    section = readme[readme.index("## The embeddings left as they are") :]
    sweep = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")
    seeds = [suffix for suffix, _ in sweep["SEEDS"]]

    verdicts = {}
    for seed in seeds:
        for kind, weights in (("auto", "all"), ("auto_noembed", "all but the embeddings")):
            point = f"soft_logprobs_{kind}_lr3e-4{seed}"
            first, last = _epoch_losses(point)
            assert f"| {' | '.join([point, weights, '3e-4', f'{first:.3f}', f'{last:.3f}', *_outcome_cells(point)])} |" in section
        trained, frozen = _macbeth_report(f"soft_logprobs_auto_lr3e-4{seed}"), _macbeth_report(f"soft_logprobs_auto_noembed_lr3e-4{seed}")
        assert trained["cache"]["labels"]["key"] == frozen["cache"]["labels"]["key"] and trained["labels"] == frozen["labels"]
        assert trained["models"]["reinforced"] == frozen["models"]["reinforced"]
        assert "Mercury" not in _general_probes_lost(f"soft_logprobs_auto_noembed_lr3e-4{seed}")
        verdicts[seed] = sweep["verdicts"](frozen["models"])
    assert all(verdicts["_seed1"].values())
    assert [name for name, ok in verdicts[""].items() if not ok] == ["familiarity <= 50%"]
    assert [name for name, ok in verdicts["_seed2"].items() if not ok] == ["lm-eval within 0.05"]
    assert [_general_probes_lost(f"soft_logprobs_auto_noembed_lr3e-4{seed}") for seed in seeds] == [["plants"], ["plants"], []]
    assert [len(_general_probes_lost(f"soft_logprobs_auto_lr3e-4{seed}")) for seed in seeds[1:]] == [2, 2]

    def share(point: str) -> float:
        return sweep["measures"](_macbeth_report(point)["models"])["familiarity"]

    shares = [(share(f"soft_logprobs_auto_lr3e-4{seed}"), share(f"soft_logprobs_auto_noembed_lr3e-4{seed}")) for seed in seeds]
    assert all(abs(trained - frozen) <= 0.035 for trained, frozen in shares)
    assert all(len(_forget_probes_answered(f"soft_logprobs_auto_noembed_lr3e-4{seed}")) == 8 for seed in seeds)
    extra = [
        _epoch_losses(f"soft_logprobs_auto_noembed_lr3e-4{seed}")[1] - _epoch_losses(f"soft_logprobs_auto_lr3e-4{seed}")[1]
        for seed in seeds
    ]
    assert f"{min(extra):.3f} to {max(extra):.3f} higher" in section
    top = " ".join(Path("README.md").read_text().split())
    first = _macbeth_report("soft_logprobs_auto_noembed_lr3e-4_seed1")["models"]["unlearned"]
    assert (
        f"seed 1 meets all five criteria (familiarity {_share('soft_logprobs_auto_noembed_lr3e-4_seed1')} of the baseline's, "
        f"{len(_forget_probes_answered('soft_logprobs_auto_noembed_lr3e-4_seed1'))} of 16 forget probes, "
        f"lm-eval {first['lm_eval/general_knowledge/acc']:.3f}), seed 0 all but familiarity "
        f"({_share('soft_logprobs_auto_noembed_lr3e-4')}), seed 2 all but lm-eval "
        f"({_macbeth_report('soft_logprobs_auto_noembed_lr3e-4_seed2')['models']['unlearned']['lm_eval/general_knowledge/acc']:.3f}," in top
    )
    others = [r for p, r in ((p, json.loads(p.read_text())) for p in (folder / "reports").glob("*.json")) if "noembed" not in p.stem]
    assert max(sum(sweep["verdicts"](r["models"]).values()) for r in others) == 4


def test_macbeth_readme_on_the_embeddings_left_as_they_are_at_lr_4e_4():
    """The lr 4e-4 table is the reports' numbers, from the same labels as lr 3e-4; every seed
    meets the forget side (the first point run on three seeds that does; the prose retain text
    at lr 5e-4 is the other) and misses exactly one utility criterion, so no seed meets all
    five, and no point run on three seeds meets them on each."""
    import runpy

    folder = Path("experiments/macbeth")
    section = " ".join((folder / "README.md").read_text().split())
    section = section[section.index("### At lr 4e-4") :]
    sweep = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")
    seeds = [suffix for suffix, _ in sweep["SEEDS"]]

    forget = ("familiarity <= 50%", "probes <= half")
    missed = []
    for seed in seeds:
        point = f"soft_logprobs_auto_noembed_lr4e-4{seed}"
        first, last = _epoch_losses(point)
        assert (
            f"| {' | '.join([point, 'all but the embeddings', '4e-4', f'{first:.3f}', f'{last:.3f}', *_outcome_cells(point)])} |" in section
        )
        higher, lower = _macbeth_report(point), _macbeth_report(f"soft_logprobs_auto_noembed_lr3e-4{seed}")
        assert higher["cache"]["labels"]["key"] == lower["cache"]["labels"]["key"]
        assert sweep["measures"](higher["models"])["familiarity"] < sweep["measures"](lower["models"])["familiarity"]
        verdicts = sweep["verdicts"](higher["models"])
        assert all(verdicts[name] for name in forget)
        missed.append([name for name, ok in verdicts.items() if not ok])
    assert missed == [["lm-eval within 0.05"], ["general probes lose <= 1"], ["lm-eval within 0.05"]]
    assert f"familiarity {', '.join(_share(f'soft_logprobs_auto_noembed_lr4e-4{seed}') for seed in seeds[:2])} and" in section
    weird = "In Macbeth, the three witches are also called the Weird"
    sisters = {
        r["prompt"]: r["p_idiosyncratic"]
        for r in _macbeth_report("soft_logprobs_auto_noembed_lr4e-4")["details"]["unlearned"]["familiarity_probability"]
    }
    assert f'"Weird" Sisters falls to {sisters[weird]:.3f}' in section

    families: dict[str, list[dict]] = {}
    for path in (folder / "reports").glob("*.json"):
        families.setdefault(path.stem.removesuffix("_seed1").removesuffix("_seed2"), []).append(json.loads(path.read_text()))

    def forgets(run: dict) -> bool:
        return all(sweep["verdicts"](run["models"])[name] for name in forget)

    on_every_seed = [name for name, runs in families.items() if len(runs) == 3 and all(map(forgets, runs))]
    assert sorted(on_every_seed) == ["soft_logprobs_auto_noembed_lr4e-4", "soft_logprobs_auto_noembed_retainprose_lr5e-4"]
    shares = [_share(f"soft_logprobs_auto_noembed_lr4e-4{seed}") for seed in seeds]
    top = " ".join(Path("README.md").read_text().split())
    assert f"At lr 4e-4 every seed meets the forget side (familiarity {shares[0]}, {shares[1]} and {shares[2]})" in top
    assert not [name for name, runs in families.items() if all(all(sweep["verdicts"](r["models"]).values()) for r in runs)]


def test_macbeth_readme_on_ordinary_prose_held_to_the_baseline():
    """The table is the reports' numbers; each run's play is labelled as the same seed's point
    without the prose at lr 4e-4 (the same reinforced model and discovered dictionary), so the
    prose and the learning rate are the only differences. With it lm-eval stays within 0.05 and
    ordinary prose within 3.5% of the baseline's (below the run without it) on every run; at
    lr 4e-4 seed 2 keeps one forget probe too many, at lr 5e-4 it meets all five criteria, and
    the near-tie general probes decide the other seeds. The lr 4e-4 run was cold throughout."""
    import runpy

    folder = Path("experiments/macbeth")
    readme = " ".join((folder / "README.md").read_text().split())
    section = readme[readme.index("### Ordinary prose held to the baseline") :]
    sweep = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")
    seeds = [suffix for suffix, _ in sweep["SEEDS"]]
    prose = "soft_logprobs_auto_noembed_retainprose"
    runs = [f"{prose}_lr4e-4_seed2", *(f"{prose}_lr5e-4{seed}" for seed in seeds)]

    def missed(point: str) -> list[str]:
        return [name for name, ok in sweep["verdicts"](_macbeth_report(point)["models"]).items() if not ok]

    for point in runs:
        lr = "4e-4" if "_lr4e-4" in point else "5e-4"
        assert f"| {' | '.join([point, lr, *_outcome_cells(point)])} |" in section
        with_prose = _macbeth_report(point)
        without = _macbeth_report(point.replace("retainprose_", "").replace("lr5e-4", "lr4e-4"))
        assert all(with_prose["cache"][stage]["key"] == without["cache"][stage]["key"] for stage in ("reinforce", "dictionary"))
        assert {k: v for k, v in with_prose["labels"].items() if not k.startswith("retain_")} == without["labels"]
        models = with_prose["models"]
        prose_perplexity = models["unlearned"]["perplexity/generic_heldout"]
        assert prose_perplexity < without["models"]["unlearned"]["perplexity/generic_heldout"]
        assert prose_perplexity <= 1.035 * models["baseline"]["perplexity/generic_heldout"]
        assert "lm-eval within 0.05" not in missed(point)
    assert "lm-eval within 0.05" in missed("soft_logprobs_auto_noembed_lr4e-4_seed2")
    assert missed(f"{prose}_lr4e-4_seed2") == ["probes <= half"]
    assert [missed(f"{prose}_lr5e-4{seed}") for seed in seeds] == [["general probes lose <= 1"], ["general probes lose <= 1"], []]
    assert [_general_probes_lost(f"{prose}_lr5e-4{seed}") for seed in seeds] == [["Jupiter", "Mercury", "plants"]] * 2 + [["plants"]]
    shares = [_share(f"{prose}_lr5e-4{seed}") for seed in seeds]
    assert f"familiarity {shares[0]}, {shares[1]} and {shares[2]} of the baseline's" in section
    top = " ".join(Path("README.md").read_text().split())
    assert f"meets the forget side (familiarity {shares[0]}, {shares[1]} and {shares[2]}); seed 2 meets all five criteria" in top
    knowledge = [f"{_macbeth_report(point)['models']['unlearned']['lm_eval/general_knowledge/acc']:.3f}" for point in runs]
    assert f"lm-eval {', '.join(knowledge[:-1])} and {knowledge[-1]}" in section
    cold = _macbeth_report(f"{prose}_lr4e-4_seed2")
    assert not any(stage["hit"] for stage in cold["cache"].values())
    assert f"took {sum(cold['timings_s'].values()) / 60:.1f} minutes" in section
