"""A chat-completions server on 127.0.0.1 for tests: answers with `answer(request body)`,
fails the first `failures` requests with HTTP 500, and records what it saw."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeChatServer(BaseHTTPRequestHandler):
    answer: Callable[[dict], str] = staticmethod(lambda body: "")
    failures = 0
    requests: list[dict] = []  # noqa: RUF012 (shared by design: the test reads what the server saw)
    headers_seen: list[str] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = type(self)
        server.requests.append(body)
        server.headers_seen.append(self.headers.get("Authorization", ""))
        if server.failures > 0:
            server.failures -= 1
            self.send_response(500)
            self.end_headers()
            return
        assert self.path == "/v1/chat/completions"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": server.answer(body)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def chat_server(answer: Callable[[dict], str]) -> Iterator[str]:
    """The base URL of a fresh server answering with `answer`."""
    FakeChatServer.answer = staticmethod(answer)
    FakeChatServer.requests, FakeChatServer.headers_seen, FakeChatServer.failures = [], [], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeChatServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
