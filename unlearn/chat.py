"""A chat-completions endpoint (OpenAI, vLLM, a llama.cpp server ...), shared by the LLM
judge and LLM anchored-term extraction.

The API key is read from the environment variable `api_key_env` and sent only in the
request header: it is not part of the cache key and is never logged or written. Replies
are cached in `cache_dir` by (base_url, request), so a re-run costs nothing; failures
are retried `max_retries` times with exponential backoff.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from unlearn.errors import UserError

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class ChatClient:
    """The config keys and the requests of a component that talks to an endpoint (the judge,
    anchors=llm): such a component is a ChatClient with fields of its own."""

    base_url: str
    model: str
    cache_dir: str
    api_key_env: str = "OPENAI_API_KEY"
    max_retries: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 60.0
    config_key: ClassVar[str] = "chat"  # where the user sets base_url, for error messages

    def reply(self, messages: list[dict[str, str]], max_tokens: int, temperature: float = 0.0) -> str:
        body = {"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}
        key = hashlib.sha256(json.dumps([self.base_url, body], sort_keys=True).encode()).hexdigest()
        cached = Path(self.cache_dir) / f"{key}.json"
        if cached.exists():
            return json.loads(cached.read_text())["reply"]
        reply = self._ask(body)
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = cached.with_suffix(".tmp")
        staging.write_text(json.dumps({"request": body, "reply": reply}))
        staging.replace(cached)
        return reply

    def _ask(self, body: dict) -> str:
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(self.api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        request = urllib.request.Request(
            self.base_url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        attempt = 0
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())["choices"][0]["message"]["content"]
            except (urllib.error.URLError, TimeoutError, KeyError, json.JSONDecodeError) as err:
                if attempt == self.max_retries:
                    raise UserError(
                        f"{self.config_key} endpoint {self.base_url} failed {self.max_retries + 1} times ({_reason(err)}); "
                        f"check {self.config_key}.base_url and the key in ${self.api_key_env}"
                    ) from None
                delay = self.backoff_s * 2**attempt
                log.warning("%s request failed (%s); retrying in %.1f s", self.config_key, _reason(err), delay)
                time.sleep(delay)
                attempt += 1


def _reason(err: Exception) -> str:
    """What went wrong, without anything from the request (its headers hold the key)."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return type(err).__name__
