"""A fake LINE Messaging API on loopback, for tests and benchmarks.

The bot talks to it through the real SDK (`LINE_API_BASE_URL`). It checks what LINE checks
(authorization, message limits, single-use reply tokens, retry keys: 409 for a key already
accepted, 400 for a retry key on a reply) and can be told to fail: `fail_next(status, n)`,
`fail_every(n, status)`, `expire_reply_token(token)`.
"""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_TEXT = 5000
MAX_QUICK = 13
MAX_LABEL = 20
MAX_DATA = 300
MAX_ALT = 400


def u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    status: int = 0


@dataclass
class Delivery:
    kind: str  # reply | push | multicast | broadcast
    to: list[str]
    messages: list[dict[str, Any]]
    retry_key: str | None
    request_id: str


@dataclass
class FakeLine:
    token: str = "test-access-token"
    calls: list[Call] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)  # message id -> what a resident sent
    rich_menus: dict[str, dict] = field(default_factory=dict)  # id -> rich menu object
    rich_menu_images: dict[str, bytes] = field(default_factory=dict)
    default_rich_menu: str | None = None
    user_rich_menu: dict[str, str] = field(default_factory=dict)  # user id -> rich menu id
    reply_tokens: dict[str, str] = field(default_factory=dict)  # token -> user or group id
    used_tokens: set[str] = field(default_factory=set)
    accepted_keys: dict[str, str] = field(default_factory=dict)  # retry key -> request id
    record_calls: bool = True
    delay: float = 0.0  # seconds each send call takes (to catch a worker in the middle of a batch)

    def __post_init__(self):
        self.lock = threading.Lock()
        self._fail_queue: list[tuple[int, float | None]] = []
        self._fail_every: tuple[int, int] | None = None
        self._counter = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeLine":
        fake = self

        class Handler(_Handler):
            line = fake

        class Server(ThreadingHTTPServer):
            # LINE's servers take many connections at once; socketserver's default backlog of 5
            # refused some when three workers' send threads (8 each) connected together.
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-line", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.deliveries.clear()
            self.profiles.clear()
            self.reply_tokens.clear()
            self.used_tokens.clear()
            self.accepted_keys.clear()
            self._fail_queue.clear()
            self._fail_every = None
            self._counter = 0
            self.delay = 0.0
            self.contents.clear()
            self.rich_menus.clear()
            self.rich_menu_images.clear()
            self.default_rich_menu = None
            self.user_rich_menu.clear()

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        with self.lock:
            self._fail_queue.extend([(status, retry_after)] * count)

    def fail_every(self, n: int, status: int = 500) -> None:
        with self.lock:
            self._fail_every = (n, status)

    def issue_reply_token(self, owner: str) -> str:
        token = "rt-" + uuid.uuid4().hex
        with self.lock:
            self.reply_tokens[token] = owner
        return token

    def expire_reply_token(self, token: str) -> None:
        with self.lock:
            self.used_tokens.add(token)

    # -- reading -------------------------------------------------------------------------
    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for d in self.deliveries if user_id in d.to for m in d.messages]

    def texts_to(self, user_id: str) -> list[str]:
        out = []
        for m in self.messages_to(user_id):
            if m.get("type") == "text":
                out.append(m["text"])
            elif m.get("type") == "flex":
                out.append(m.get("altText", ""))
        return out

    def last_message_to(self, user_id: str) -> dict[str, Any]:
        msgs = self.messages_to(user_id)
        assert msgs, f"nothing was delivered to {user_id}"
        return msgs[-1]

    def quick_labels(self, user_id: str) -> list[str]:
        quick = self.last_message_to(user_id).get("quickReply") or {"items": []}
        return [i["action"]["label"] for i in quick["items"]]

    def quick_action(self, user_id: str, label: str) -> dict[str, Any]:
        quick = self.last_message_to(user_id).get("quickReply") or {"items": []}
        for item in quick["items"]:
            if item["action"]["label"] == label:
                return item["action"]
        raise AssertionError(f"no quick reply {label!r} in {self.quick_labels(user_id)}")

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for d in self.deliveries if d.kind == kind)

    # -- behaviour -----------------------------------------------------------------------
    def _injected(self) -> tuple[int, float | None] | None:
        with self.lock:
            self._counter += 1
            if self._fail_queue:
                return self._fail_queue.pop(0)
            if self._fail_every and self._counter % self._fail_every[0] == 0:
                return (self._fail_every[1], None)
        return None

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any, raw: bytes = b"") -> tuple[int, dict, dict]:
        call = Call(method, path, body, headers)
        if self.record_calls:
            with self.lock:
                self.calls.append(call)
        if "/richmenu" in path:
            if headers.get("authorization") != f"Bearer {self.token}":
                return 401, {}, {"message": "Authentication failed"}
            status, extra_headers, payload = self._rich_menu(method, path, headers, body, raw)
            call.status = status
            return status, extra_headers, payload
        status, extra_headers, payload = self._route(method, path, headers, body)
        call.status = status
        return status, extra_headers, payload

    def _rich_menu(self, method, path, headers, body, raw):
        return _rich_menu_route(self, method, path, headers, body, raw)

    def _route(self, method, path, headers, body):
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Authentication failed"}
        if method == "GET" and path.startswith("/v2/bot/profile/"):
            user = path.rsplit("/", 1)[-1]
            prof = self.profiles.get(user)
            if prof is None:
                return 404, {}, {"message": "Not found"}
            return 200, {}, {"userId": user, **prof}
        if method == "GET" and path.startswith("/v2/bot/message/") and path.endswith("/content"):
            data = self.contents.get(path.split("/")[4])
            if data is None:
                return 404, {}, {"message": "Not found"}
            return 200, {"Content-Type": "image/jpeg"}, data
        if method == "POST" and path == "/v2/bot/chat/loading/start":
            return 202, {}, {}
        kinds = {
            "/v2/bot/message/reply": "reply",
            "/v2/bot/message/push": "push",
            "/v2/bot/message/multicast": "multicast",
            "/v2/bot/message/broadcast": "broadcast",
        }
        kind = kinds.get(path)
        if method != "POST" or kind is None:
            return 404, {}, {"message": "Not found"}
        if not isinstance(body, dict):
            return 400, {}, {"message": "The request body has 1 error(s)"}
        retry_key = headers.get("x-line-retry-key")
        if kind == "reply" and retry_key:
            return 400, {}, {"message": "X-Line-Retry-Key is not supported for this request"}
        problem = validate_messages(body.get("messages"))
        if problem:
            return 400, {}, {"message": problem}
        if retry_key:
            with self.lock:
                accepted = self.accepted_keys.get(retry_key)
            if accepted:
                return 409, {"x-line-accepted-request-id": accepted}, {"message": "The retry key is already accepted"}
        if self.delay:
            import time

            time.sleep(self.delay)
        injected = self._injected()
        if injected:
            status, retry_after = injected
            extra = {"Retry-After": str(int(retry_after))} if retry_after else {}
            return status, extra, {"message": "injected failure"}
        request_id = uuid.uuid4().hex
        if kind == "reply":
            token = body.get("replyToken")
            with self.lock:
                owner = self.reply_tokens.get(token)
                if owner is None or token in self.used_tokens:
                    return 400, {}, {"message": "Invalid reply token"}
                self.used_tokens.add(token)
            to = [owner]
        elif kind == "push":
            to = [body.get("to")]
        elif kind == "multicast":
            to = list(body.get("to") or [])
            if not 1 <= len(to) <= 500:
                return 400, {}, {"message": "Size must be between 1 and 500"}
        else:
            to = ["*"]
        with self.lock:
            if retry_key:
                self.accepted_keys[retry_key] = request_id
            self.deliveries.append(Delivery(kind, to, list(body["messages"]), retry_key, request_id))
        return 200, {"x-line-request-id": request_id}, {"sentMessages": [{"id": "1"}]}


def _rich_menu_route(fake: "FakeLine", method: str, path: str, headers: dict, body: Any, raw: bytes):
    """Rich menus as LINE checks them: size 2500×1686 or ×843 (or 1200/800 wide), 1–20 areas
    inside the image, action labels ≤ 20, chatBarText ≤ 14; the image a PNG or JPEG of the
    menu's size, ≤ 1 MB, uploaded once; bulk links and unlinks of 1–500 users."""
    parts = path.strip("/").split("/")
    if method == "POST" and path == "/v2/bot/richmenu":
        problem = validate_rich_menu(body)
        if problem:
            return 400, {}, {"message": problem}
        rid = "richmenu-" + uuid.uuid4().hex
        with fake.lock:
            fake.rich_menus[rid] = body
        return 200, {}, {"richMenuId": rid}
    if method == "POST" and len(parts) == 5 and parts[4] == "content":
        rid = parts[3]
        if rid not in fake.rich_menus:
            return 404, {}, {"message": "Not found"}
        if rid in fake.rich_menu_images:
            return 400, {}, {"message": "An image has already been uploaded to the richmenu"}
        if headers.get("content-type") not in ("image/png", "image/jpeg") or len(raw) > 1024 * 1024:
            return 400, {}, {"message": "image must be PNG or JPEG of at most 1 MB"}
        try:
            import io

            from PIL import Image

            with Image.open(io.BytesIO(raw)) as im:
                size = fake.rich_menus[rid]["size"]
                if im.size != (size["width"], size["height"]):
                    return 400, {}, {"message": f"image size {im.size} does not match the menu"}
        except Exception:
            return 400, {}, {"message": "not an image"}
        with fake.lock:
            fake.rich_menu_images[rid] = raw
        return 200, {}, {}
    if method == "POST" and path.startswith("/v2/bot/user/all/richmenu/"):
        rid = parts[-1]
        if rid not in fake.rich_menu_images:
            return 400, {}, {"message": "must upload a richmenu image before applying it"}
        fake.default_rich_menu = rid
        return 200, {}, {}
    if method == "POST" and len(parts) == 6 and parts[2] == "user" and parts[4] == "richmenu":
        uid, rid = parts[3], parts[5]
        if rid not in fake.rich_menu_images:
            return 400, {}, {"message": "must upload a richmenu image before applying it"}
        with fake.lock:
            fake.user_rich_menu[uid] = rid
        return 200, {}, {}
    if method == "POST" and path == "/v2/bot/richmenu/bulk/link":
        rid, users = (body or {}).get("richMenuId"), (body or {}).get("userIds") or []
        if rid not in fake.rich_menu_images or not 1 <= len(users) <= 500:
            return 400, {}, {"message": "invalid bulk link"}
        with fake.lock:
            for uid in users:
                fake.user_rich_menu[uid] = rid
        return 202, {}, {}
    if method == "POST" and path == "/v2/bot/richmenu/bulk/unlink":
        users = (body or {}).get("userIds") or []
        if not 1 <= len(users) <= 500:
            return 400, {}, {"message": "invalid bulk unlink"}
        with fake.lock:
            for uid in users:
                fake.user_rich_menu.pop(uid, None)
        return 202, {}, {}
    if method == "DELETE" and len(parts) == 4:
        rid = parts[3]
        with fake.lock:
            if fake.rich_menus.pop(rid, None) is None:
                return 404, {}, {"message": "Not found"}
            fake.rich_menu_images.pop(rid, None)
            for uid in [u for u, r in fake.user_rich_menu.items() if r == rid]:
                del fake.user_rich_menu[uid]
            if fake.default_rich_menu == rid:
                fake.default_rich_menu = None
        return 200, {}, {}
    return 404, {}, {"message": "Not found"}


def validate_rich_menu(menu: Any) -> str | None:
    if not isinstance(menu, dict):
        return "invalid rich menu object"
    size = menu.get("size") or {}
    if size.get("width") not in (2500, 1200, 800) or not 250 <= int(size.get("height") or 0) <= 1686:
        return "size: invalid"
    bar = menu.get("chatBarText") or ""
    if not bar or u16(bar) > 14:
        return "chatBarText: length must be between 1 and 14"
    if not menu.get("name") or len(menu["name"]) > 300:
        return "name: invalid"
    areas = menu.get("areas") or []
    if not 1 <= len(areas) <= 20:
        return "areas: size must be between 1 and 20"
    for a in areas:
        b = a.get("bounds") or {}
        if b.get("x", -1) < 0 or b.get("y", -1) < 0 or b["x"] + b.get("width", 0) > size["width"] \
                or b["y"] + b.get("height", 0) > size["height"]:
            return "areas.bounds: outside the image"
        act = a.get("action") or {}
        if act.get("type") == "message" and not 1 <= u16(act.get("text") or "") <= 300:
            return "areas.action.text: invalid"
        if act.get("label") and u16(act["label"]) > 20:
            return "areas.action.label: length must be at most 20"
    return None


def validate_messages(messages: Any) -> str | None:
    """What LINE would refuse in a message list, or None."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "messages: size must be between 1 and 5"
    for i, m in enumerate(messages):
        t = m.get("type")
        if t == "text":
            if not m.get("text") or u16(m["text"]) > MAX_TEXT:
                return f"messages[{i}].text: length must be between 1 and 5000"
        elif t == "flex":
            if not m.get("altText") or u16(m["altText"]) > MAX_ALT:
                return f"messages[{i}].altText: invalid"
            contents = m.get("contents") or {}
            if contents.get("type") == "carousel" and not 1 <= len(contents.get("contents") or []) <= 12:
                return f"messages[{i}].contents: a carousel has 1 to 12 bubbles"
            hero = (contents.get("hero") or {}) if isinstance(contents, dict) else {}
            if hero and not str(hero.get("url", "")).startswith("https://"):
                return f"messages[{i}].contents.hero.url: must be https"
            for action in _actions(m.get("contents")):
                err = _check_action(action)
                if err:
                    return f"messages[{i}]: {err}"
        elif t == "image":
            for key in ("originalContentUrl", "previewImageUrl"):
                url = m.get(key) or ""
                if not url.startswith("https://") or len(url) > 2000:
                    return f"messages[{i}].{key}: must be an https URL of at most 2000 characters"
        else:
            return f"messages[{i}].type: not supported by the fake"
        quick = m.get("quickReply")
        if quick:
            items = quick.get("items") or []
            if not 1 <= len(items) <= MAX_QUICK:
                return f"messages[{i}].quickReply.items: size must be between 1 and 13"
            for item in items:
                err = _check_action(item.get("action") or {})
                if err:
                    return f"messages[{i}].quickReply: {err}"
    return None


def _actions(node: Any):
    if isinstance(node, dict):
        if "action" in node and isinstance(node["action"], dict):
            yield node["action"]
        for v in node.values():
            yield from _actions(v)
    elif isinstance(node, list):
        for v in node:
            yield from _actions(v)


def _check_action(action: dict) -> str | None:
    label = action.get("label")
    if not label or u16(label) > MAX_LABEL:
        return f"action label {label!r}: length must be between 1 and 20"
    if action.get("type") in ("postback", "datetimepicker"):
        data = action.get("data") or ""
        if not data or len(data) > MAX_DATA:
            return "action data: length must be between 1 and 300"
    if action.get("type") == "datetimepicker" and action.get("mode") not in ("date", "time", "datetime"):
        return "datetimepicker mode invalid"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed
    # ACKs add ~40 ms to every call on a kept-alive connection.
    disable_nagle_algorithm = True
    line: FakeLine

    def log_message(self, *args):  # quiet
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.line.handle(method, self.path.split("?")[0], headers, body, raw)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        if "Content-Type" not in extra:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self._serve("POST")

    def do_GET(self):
        self._serve("GET")

    def do_DELETE(self):
        self._serve("DELETE")


if __name__ == "__main__":  # `python -m tests.fakeline`: a fake LINE API to point a local bot at
    import time

    fake = FakeLine().start()
    print(f"fake LINE API at {fake.url} (token {fake.token})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
