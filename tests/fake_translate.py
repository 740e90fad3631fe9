"""Fake machine-translation providers on loopback: DeepL API v2 and Google Cloud Translation v2.

Each checks what the real one checks (the path, the key's header, the request's JSON shape and
language codes) and answers deterministically: "[EN-US] <text>" for DeepL, "[en] <text>" for
Google. They can be told to fail: `fail_next(status, n)` (500, 429, 456, …) or `stall_next(n)`
(answer later than the client waits). `requests` lists what arrived, so a test can see that
nothing was sent.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEEPL_TARGETS = {"JA", "EN-US", "EN-GB", "PT-BR", "PT-PT", "ID", "KO", "ZH-HANS", "ZH-HANT", "DE", "FR"}
DEEPL_SOURCES = {"JA", "EN", "PT", "ID", "KO", "ZH", "DE", "FR"}
GOOGLE_CODES = {"ja", "en", "vi", "tl", "pt", "id", "ne", "ko", "zh-CN", "zh"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeTranslator:
    kind: str  # "deepl" | "google"
    key: str = "test-mt-key:fx"
    requests: list[Received] = field(default_factory=list)
    stall_seconds: float = 1.0

    def __post_init__(self):
        self.lock = threading.Lock()
        self._fail: list[int] = []
        self._stall = 0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def texts(self) -> list[str]:
        """Every text sent to the provider, in order."""
        field_ = "text" if self.kind == "deepl" else "q"
        return [t for r in self.requests if isinstance(r.body, dict) for t in r.body.get(field_, [])]

    def fail_next(self, status: int, n: int = 1) -> None:
        with self.lock:
            self._fail += [status] * n

    def stall_next(self, n: int = 1) -> None:
        with self.lock:
            self._stall += n

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self._fail.clear()
            self._stall = 0

    def start(self) -> "FakeTranslator":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                with fake.lock:
                    fake.requests.append(Received(self.path, dict(self.headers), body))
                    status = fake._fail.pop(0) if fake._fail else None
                    stall = fake._stall > 0
                    if stall:
                        fake._stall -= 1
                if stall:
                    time.sleep(fake.stall_seconds)
                if status is None:
                    status, answer = fake.answer(self.path, self.headers, body)
                else:
                    answer = {"message": "failing as told"}
                data = json.dumps(answer, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- the providers' rules ------------------------------------------------------------------
    def answer(self, path: str, headers, body: Any) -> tuple[int, dict]:
        if self.kind == "deepl":
            return self._deepl(path, headers, body)
        return self._google(path, headers, body)

    def _deepl(self, path, headers, body) -> tuple[int, dict]:
        if path != "/v2/translate":
            return 404, {"message": "not found"}
        if headers.get("Authorization") != f"DeepL-Auth-Key {self.key}":
            return 403, {"message": "Authorization failed"}
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return 415, {"message": "JSON expected"}
        if not isinstance(body, dict) or not isinstance(body.get("text"), list) or not body["text"] \
                or not all(isinstance(t, str) for t in body["text"]) or len(body["text"]) > 50:
            return 400, {"message": "text: a list of 1 to 50 strings"}
        target, source = body.get("target_lang"), body.get("source_lang")
        if target not in DEEPL_TARGETS or (source is not None and source not in DEEPL_SOURCES):
            return 400, {"message": "Value for 'target_lang' not supported."}
        unknown = set(body) - {"text", "target_lang", "source_lang"}
        if unknown:
            return 400, {"message": f"unexpected {sorted(unknown)}"}
        return 200, {"translations": [{"detected_source_language": source or "JA", "text": f"[{target}] {t}"}
                                      for t in body["text"]]}

    def _google(self, path, headers, body) -> tuple[int, dict]:
        if path != "/language/translate/v2":
            return 404, {"error": {"code": 404, "message": "not found"}}
        if headers.get("X-goog-api-key") != self.key:
            return 403, {"error": {"code": 403, "message": "The request is missing a valid API key."}}
        if not isinstance(body, dict) or not isinstance(body.get("q"), list) or not body["q"] \
                or not all(isinstance(t, str) for t in body["q"]) or len(body["q"]) > 128:
            return 400, {"error": {"code": 400, "message": "q: 1 to 128 strings"}}
        target, source = body.get("target"), body.get("source")
        if target not in GOOGLE_CODES or (source is not None and source not in GOOGLE_CODES) or body.get("format") != "text":
            return 400, {"error": {"code": 400, "message": "Invalid Value"}}
        unknown = set(body) - {"q", "target", "source", "format"}
        if unknown:
            return 400, {"error": {"code": 400, "message": f"unexpected {sorted(unknown)}"}}
        # detectedSourceLanguage only when the request named no source, as Google answers
        found = {} if source else {"detectedSourceLanguage": "ja"}
        return 200, {"data": {"translations": [{"translatedText": f"[{target}] {t}", **found} for t in body["q"]]}}
