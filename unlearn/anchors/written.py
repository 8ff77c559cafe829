"""Dictionaries this project writes (anchors=auto, anchors=llm): cached as a stage, and
copied to the run folder for the user to review, edit and reuse with anchors=from_file."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.cache import StageCache, cache_key
from unlearn.targets import TargetFiles

log = logging.getLogger(__name__)

DICTIONARY_FILE = "anchors.yaml"


def written_dictionary(
    source: str, settings: dict, target: TargetFiles, cache: StageCache, lines: Callable[[], list[str]], review_copy: str | None
) -> AnchorDictionary:
    """The dictionary `lines()` writes (built once per settings and target, then reused), with a copy at `review_copy`."""
    key = cache_key("anchors", {"source": source, "settings": settings}, [target.key])
    folder = cache.fetch("anchors", key, lambda out: (out / DICTIONARY_FILE).write_text("\n".join(lines()) + "\n", encoding="utf-8"))
    if review_copy:
        Path(review_copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / DICTIONARY_FILE, review_copy)
        log.info("anchors=%s: review and edit %s, then use it with anchors=from_file anchors.path=<it>", source, review_copy)
    return AnchorDictionary.from_file(folder / DICTIONARY_FILE)
