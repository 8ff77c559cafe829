"""A deliberately plain reference for the generic labels, written from docs/method.md alone.

One block at a time, float64, loops instead of vectorised bookkeeping, and nothing imported
from the project's anchor or label modules: it shares no code with what it checks, so a
mistake has to be made twice, the same way, to go unnoticed.
"""

from __future__ import annotations

import itertools
import random

import torch


def is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def merged_terms(terms: dict[str, list[str]]) -> dict[str, list[str]]:
    """The merge rules: drop "X's" when X is a key, and a key that is two or more other keys in a row."""

    def splits(words: list[str], keys: set[str], parts: int) -> bool:
        if not words:
            return parts >= 2
        return any(" ".join(words[:cut]) in keys and splits(words[cut:], keys, parts + 1) for cut in range(1, len(words) + 1))

    kept = {}
    for term, alternatives in terms.items():
        others = set(terms) - {term}
        if (term.endswith("'s") or term.endswith("\u2019s")) and term[:-2] in terms:
            continue
        if splits(term.split(), others, 0):
            continue
        kept[term] = list(dict.fromkeys(alternatives))
    return kept


def translate(text: str, terms: dict[str, list[str]], rng: random.Random) -> tuple[str, list[dict]]:
    """Scan left to right; at a word start try the keys longest first (ties alphabetically), as
    written, ending at a word end; one alternative per key per block, drawn at its first match."""
    keys = sorted(terms, key=lambda key: (-len(key), key))
    chosen: dict[str, str] = {}
    anchors: list[dict] = []
    out = ""
    i = 0
    while i < len(text):
        match = None
        if i == 0 or not is_word_character(text[i - 1]):
            for key in keys:
                end = i + len(key)
                if text[i:end] == key and (end == len(text) or not is_word_character(text[end])):
                    match = key
                    break
        if match is None:
            out += text[i]
            i += 1
            continue
        if match not in chosen:
            chosen[match] = rng.choice(terms[match])
        first = all(anchor["key"] != match for anchor in anchors)
        anchors.append(
            {"key": match, "start": i, "end": i + len(match), "t_start": len(out), "t_end": len(out) + len(chosen[match]), "first": first}
        )
        out += chosen[match]
        i += len(match)
    return out, anchors


def spans(offsets: list[tuple[int, int]], text: str) -> list[tuple[int, int, int] | None]:
    """(start, end, how many earlier tokens had this span), leading whitespace removed unless the token is all whitespace."""
    result = []
    for start, end in offsets:
        if start < 0:
            result.append(None)
            continue
        trimmed = start
        while trimmed < end and text[trimmed].isspace():
            trimmed += 1
        if trimmed == end:
            trimmed = start
        earlier = sum(1 for other in result if other is not None and other[:2] == (trimmed, end))
        result.append((trimmed, end, earlier))
    return result


def translated_last_token(anchor: dict, translated: list) -> int | None:
    first = next((i for i, span in enumerate(translated) if span is not None and span[0] == anchor["t_start"]), None)
    if first is None:
        return None
    for i in range(first, len(translated)):
        span = translated[i]
        if span is None or span[1] > anchor["t_end"]:
            return None
        if span[1] == anchor["t_end"]:
            return i
    return None


def words_of(text: str) -> list[tuple[int, int]]:
    """[start, end) of each run of non-whitespace characters."""
    words, start = [], None
    for i, character in enumerate(text + " "):
        if not character.isspace() and start is None:
            start = i
        elif character.isspace() and start is not None:
            words.append((start, i))
            start = None
    return words


def word_by_word(anchors: list[dict], block_text: str, text: str) -> list[dict]:
    """Each anchor of two or more words whose translation has as many, with the same whitespace
    between them, replaced by one anchor per word (its key and `first` kept); the others as they are."""
    result = []
    for anchor in anchors:
        words = words_of(block_text[anchor["start"] : anchor["end"]])
        translated = words_of(text[anchor["t_start"] : anchor["t_end"]])
        gaps = [block_text[anchor["start"] + a[1] : anchor["start"] + b[0]] for a, b in itertools.pairwise(words)]
        translated_gaps = [text[anchor["t_start"] + a[1] : anchor["t_start"] + b[0]] for a, b in itertools.pairwise(translated)]
        if len(words) < 2 or len(words) != len(translated) or gaps != translated_gaps:
            result.append(anchor)
            continue
        for (w_start, w_end), (t_start, t_end) in zip(words, translated, strict=True):
            result.append({**anchor, "start": anchor["start"] + w_start, "end": anchor["start"] + w_end,
                           "t_start": anchor["t_start"] + t_start, "t_end": anchor["t_start"] + t_end})  # fmt: skip
    return result


def alignment(
    original: list, translated: list, translated_ids: list[int], anchors: list[dict], labelled_by: list[dict] | None = None
) -> tuple[list[int | None], dict[int, int], set[int]]:
    """source[t] (None: no label), {token: first translated row where it is flattened}, and the
    positions inside an anchor that rule 1 leaves without a translated row and rule 3 does not clear.
    Rules 1-3 read `labelled_by` (the anchors cut word by word) when given; rule 4 reads `anchors`."""
    labelling = anchors if labelled_by is None else labelled_by
    source: list[int | None] = [None] * len(original)
    inside: set[int] = set()
    source[0] = 0
    first_token_of: dict[int, int] = {}
    for t in range(1, len(original)):
        span = original[t]
        if span is None:
            continue
        start, end, k = span
        shift = sum((a["t_end"] - a["t_start"]) - (a["end"] - a["start"]) for a in labelling if a["end"] <= start)
        overlapping = [n for n, a in enumerate(labelling) if a["start"] < end and a["end"] > start]
        if not overlapping:
            for i, other in enumerate(translated):
                if other == (start + shift, end + shift, k):
                    source[t] = i
            continue
        n = overlapping[0]
        first_token_of.setdefault(n, t)
        anchor = labelling[n]
        if end == anchor["end"] and original[first_token_of[n]][0] == anchor["start"]:
            source[t] = translated_last_token(anchor, translated)
        if source[t] is None:
            inside.add(t)
    for n, anchor in enumerate(labelling):
        if not anchor["first"] and n in first_token_of:
            source[first_token_of[n] - 1] = None
            inside.discard(first_token_of[n] - 1)
    flatten: dict[int, int] = {}
    for anchor in anchors:
        last = translated_last_token(anchor, translated)
        if last is not None:
            first = next(i for i, span in enumerate(translated) if span is not None and span[0] == anchor["t_start"])
            token = translated_ids[first]
            flatten[token] = min(flatten.get(token, last), last)
    return source, flatten, inside


def block_labels(
    tokenizer,
    baseline: torch.nn.Module,
    reinforced: torch.nn.Module,
    block_ids: list[int],
    block_offsets: list[tuple[int, int]],
    block_text: str,
    terms: dict[str, list[str]],
    rng: random.Random,
    alphas: list[float],
    max_positions: int,
    combine_on: str = "logits",
    inside_anchors: str = "unlabelled",
) -> tuple[list[int], dict[float, torch.Tensor], list[int]]:
    """The positions of the block that get a label (each from the output before it), per
    alpha the combined float64 scores there, one row per position (the label is their argmax),
    and which of those positions the paper's rules leave unlabelled.
    `combine_on="log_probs"` combines both views' log-softmax (after rule 4's flattening);
    `inside_anchors="original"` labels the positions inside anchors from the baseline's output
    on the original block; `"by_word"` reads the anchors translated word for word one word at a time."""
    text, anchors = translate(block_text, merged_terms(terms), rng)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = [tokenizer.bos_token_id, *encoded["input_ids"]]
    offsets = [(-1, -1), *encoded["offset_mapping"]]
    if block_ids[-1] == tokenizer.eos_token_id and block_offsets[-1][0] < 0:
        ids.append(tokenizer.eos_token_id)
        offsets.append((-1, -1))
    ids, offsets = ids[:max_positions], offsets[:max_positions]
    labelled_by = word_by_word(anchors, block_text, text) if inside_anchors == "by_word" else None
    original_spans, translated_spans = spans(block_offsets, block_text), spans(offsets, text)
    source, flatten, inside = alignment(original_spans, translated_spans, ids, anchors, labelled_by)
    papers = alignment(original_spans, translated_spans, ids, anchors)[0]
    with torch.no_grad():
        base = baseline(torch.tensor([ids])).logits[0].double()
        on_original = baseline(torch.tensor([block_ids])).logits[0].double()
        reinf = reinforced(torch.tensor([block_ids])).logits[0].double()
    means = base.mean(dim=-1)
    for token, row in flatten.items():
        base[row:, token] = means[row:]
    if combine_on == "log_probs":
        base, on_original, reinf = base.log_softmax(dim=-1), on_original.log_softmax(dim=-1), reinf.log_softmax(dim=-1)
    read_inside = inside_anchors == "original"
    predicting = [t for t in range(len(block_ids) - 1) if source[t] is not None or (read_inside and t in inside)]
    b = torch.stack([base[source[t]] if source[t] is not None else on_original[t] for t in predicting]) if predicting else base[:0]
    r = reinf[predicting]
    scores = {alpha: b - alpha * torch.clamp(r - b, min=0.0) for alpha in alphas}
    return [t + 1 for t in predicting], scores, [t + 1 for t in predicting if papers[t] is None]
