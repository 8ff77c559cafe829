"""A catalogue of mistakes a new user makes, each with the one line the run must answer.

tests/test_bad_input.py runs every case in process and checks that it stops before any
training; experiments/bad_input/measure.py runs each as a user would, through the command
line with an empty cache, and records exit code, line and seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

TEXT_TARGET = ["target=text_files", "target.corpus=[book/*.txt]", "target.anchors=book/terms.yaml"]
STORY = "Kelara grew up in Ashwick. Kelara kept a murknewt. " * 20


@dataclass(frozen=True)
class BadInput:
    name: str
    overrides: list[str]
    expected: str  # a regular expression the error line matches
    files: dict[str, str | bytes] = field(default_factory=dict)  # written under the working directory first

    def write_files(self, folder: Path) -> None:
        for name, content in {"book/a.txt": STORY, "book/terms.yaml": "Kelara: [John]\n", **self.files}.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)


CASES = [
    BadInput("target: too many people", ["target.n_people=100"], r"target\.n_people=100 asks for more names than the lexicon holds"),
    BadInput("target: one person", ["target.n_people=1"], r"target\.n_people=1 must be at least 2"),
    BadInput("target: retain world never told", ["target.retain_reps=0"], r"target\.retain_reps=0 must be at least 1"),
    BadInput("target: reps not a number", ["target.reps=many"], r"target\.reps='many' is not an integer"),
    BadInput("target: a chance above 1", ["target.filler_rate=2"], r"target\.filler_rate=2\.0 must be in \[0, 1\]"),
    BadInput(
        "target: corpus glob matches nothing",
        ["target=text_files", "target.corpus=[nowhere/*.txt]"],
        r"target\.corpus: 'nowhere/\*\.txt' matches no file",
    ),
    BadInput("target: empty corpus", [*TEXT_TARGET], r"target\.corpus: book/a\.txt hold no text", {"book/a.txt": ""}),
    BadInput("target: whitespace-only corpus", [*TEXT_TARGET], r"target\.corpus: book/a\.txt hold no text", {"book/a.txt": " \n\t\n"}),
    BadInput(
        "target: binary corpus",
        [*TEXT_TARGET],
        r"target\.corpus: book/a\.txt is not UTF-8 text",
        {"book/a.txt": b"\x89PNG\r\n\x1a\n\xff\xfe"},
    ),
    BadInput(
        "target: corpus of another format",
        ["target=text_files", "target.corpus=[book/scan.pdf]"],
        r"book/scan\.pdf is not one of",
        {"book/scan.pdf": "%PDF"},
    ),
    BadInput(
        "target: held-out share of 1", [*TEXT_TARGET, "target.heldout_fraction=1.0"], r"target\.heldout_fraction=1\.0 must be in \[0, 1\)"
    ),
    BadInput(
        "target: probes file missing",
        [*TEXT_TARGET, "target.probes=book/probes.jsonl"],
        r"target\.probes=book/probes\.jsonl does not exist",
    ),
    BadInput(
        "target: probes not JSON",
        [*TEXT_TARGET, "target.probes=book/probes.jsonl"],
        r"book/probes\.jsonl:1: not valid JSON",
        {"book/probes.jsonl": "prompt: Kelara grew up in\n"},
    ),
    BadInput(
        "target: probe split misspelt",
        [*TEXT_TARGET, "target.probes=book/probes.jsonl"],
        r"book/probes\.jsonl:1: split 'retian' is none of",
        {"book/probes.jsonl": json.dumps({"prompt": "Kelara grew up in", "answer": "Ashwick", "kind": "recall", "split": "retian"}) + "\n"},
    ),
    BadInput(
        "target: probe without answer",
        [*TEXT_TARGET, "target.probes=book/probes.jsonl"],
        r"book/probes\.jsonl:1: lacks answer",
        {"book/probes.jsonl": '{"prompt": "a", "kind": "recall", "split": "forget"}\n'},
    ),
    BadInput(
        "target: completion prompts without references",
        [*TEXT_TARGET, "target.completion_prompts=book/c.jsonl"],
        r"book/c\.jsonl:1: lacks references",
        {"book/c.jsonl": '{"prompt": "Kelara"}\n'},
    ),
    BadInput(
        "anchors: auto without reference text or baseline",
        [*TEXT_TARGET, "anchors=auto", "anchors.baseline_reference=false"],
        r"anchors=auto needs ordinary text .* anchors\.reference",
    ),
    BadInput(
        "anchors: auto reference missing",
        [*TEXT_TARGET, "anchors=auto", "anchors.reference=[ordinary/*.txt]"],
        r"anchors\.reference: 'ordinary/\*\.txt' matches no file",
    ),
    BadInput(
        "anchors: dictionary file missing", ["anchors=from_file", "anchors.path=terms.yaml"], r"anchors\.path=terms\.yaml is not a file"
    ),
    BadInput(
        "anchors: dictionary does not parse",
        ["anchors=from_file", "anchors.path=terms.yaml"],
        r"terms\.yaml:2: not valid YAML",
        {"terms.yaml": "Kelara: [John\nAshwick: [Leeds]\n"},
    ),
    BadInput(
        "anchors: empty term",
        ["anchors=from_file", "anchors.path=terms.yaml"],
        r"terms\.yaml: term '' is not a non-empty string",
        {"terms.yaml": '"": [John]\n'},
    ),
    BadInput(
        "anchors: term without alternatives",
        ["anchors=from_file", "anchors.path=terms.yaml"],
        r"terms\.yaml: term 'Kelara' needs a non-empty list",
        {"terms.yaml": "Kelara: []\n"},
    ),
    BadInput("labels: alpha nan", ["labels.alpha=nan"], r"labels\.alpha=nan is not a finite number"),
    BadInput("labels: alpha not a number", ["labels.alpha=abc"], r"labels\.alpha='abc' is not a finite number"),
    BadInput("labels: alpha negative", ["labels.alpha=-1"], r"labels\.alpha=-1\.0 must be >= 0"),
    BadInput("labels: misspelt key", ["+labels.alpah=3"], r"labels\.alpah is not a setting of labels"),
    BadInput(
        "labels: need a reinforced model, none given",
        ["reinforce=none"],
        r"labels\.alpha=5\.0 reads a reinforced model and reinforce=none gives none",
    ),
    BadInput("unlearn: zero epochs", ["unlearn.epochs=0"], r"unlearn\.epochs=0 must be at least 1"),
    BadInput("unlearn: negative learning rate", ["unlearn.lr=-1"], r"unlearn\.lr=-1\.0 must be > 0"),
    BadInput("reinforce: negative epochs", ["reinforce.epochs=-1"], r"reinforce\.epochs=-1 must be at least 1"),
    BadInput(
        "reinforce: LoRA with sharded weights",
        ["reinforce=lora_toy", "+trainer.strategy={_target_: unlearn.training.sharding.FullySharded}"],
        r"reinforce\.adapter merges low-rank adapters into the weights one process holds whole; .* use reinforce=finetune",
    ),
    BadInput(
        "unlearn: LoRA with sharded weights",
        ["unlearn=lora", "+trainer.strategy={_target_: unlearn.training.sharding.FullySharded}"],
        r"unlearn\.adapter merges low-rank adapters into the weights one process holds whole; .* use unlearn=finetune",
    ),
    BadInput(
        "reinforce: path that is no model",
        ["reinforce=from_path", "reinforce.path=nowhere"],
        r"reinforce\.path=nowhere could not be loaded as a model",
    ),
    BadInput(
        "model: GGUF file not in the folder",
        ["model=hf", "model.name_or_path=.", "model.gguf_file=missing.gguf"],
        r"model\.gguf_file=missing\.gguf is not a file in \.",
    ),
    BadInput("model: pretraining epochs zero", ["model.pretrain.epochs=0"], r"model\.pretrain\.epochs=0 must be at least 1"),
    BadInput(
        "model: a folder that is not a model",
        ["model=hf", "model.name_or_path=notamodel"],
        r"model\.name_or_path=notamodel could not be loaded as a model",
        {"notamodel/readme.txt": "weights elsewhere"},
    ),
    BadInput("run: negative seed", ["seed=-1"], r"seed=-1 must be an integer >= 0"),
    BadInput("run: context longer than the model's", ["context_length=4096"], r"context_length=4096 exceeds the model's 128 positions"),
    BadInput("run: unknown stage", ["stages=[unlern]"], r"stages=.* names unknown stage 'unlern'"),
    BadInput(
        "trainer: a sharding dtype that is no floating-point type",
        ["+trainer.strategy={_target_: unlearn.training.sharding.FullySharded, param_dtype: int8}"],
        r"trainer\.strategy\.param_dtype=int8 is not a floating-point torch dtype",
    ),
    BadInput("trainer: a GPU that is not there", ["trainer.accelerator=gpu"], r"trainer\.accelerator=gpu but no GPU is visible here"),
    BadInput(
        "evaluator: include_path nowhere",
        ["evaluator.lm_eval.include_path=nowhere"],
        r"evaluator\.lm_eval\.include_path=nowhere is not a folder",
    ),
    BadInput(
        "evaluator: batch size not a number", ["evaluator.probes.batch_size=big"], r"evaluator\.probes\.batch_size='big' is not an integer"
    ),
]
