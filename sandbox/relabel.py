"""Rename texts of the website on the fly: HTX changing a label, without touching templates.

`Faults.labels` maps old text to new text. Every HTML page and script the website serves has
the replacements applied, so a page object whose label HTX "renamed" stops finding its element
the way it would on the live site; `htx-keys doctor` is shown against that. The REST API is
left alone: its JSON is a contract with ccxt, not a page a person reads.

A pure ASGI middleware (no BaseHTTPMiddleware): it buffers only the responses it rewrites and
reads the labels per request, so a test can change them while the server runs.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.faults import Faults

__all__ = ["REWRITTEN_TYPES", "Relabel", "relabel_text"]

REWRITTEN_TYPES = frozenset({"text/html", "application/javascript", "text/javascript"})
# HTX's signed REST API shares the origin; its answers are never relabelled.
API_PREFIXES = ("/v1/", "/v2/")
# A rewritten body no longer matches the validators StaticFiles computed from the file, and a
# 304 would let the browser keep a body relabelled differently (or not at all).
_VALIDATORS = frozenset({b"content-length", b"etag", b"last-modified"})
_CONDITIONALS = frozenset({b"if-none-match", b"if-modified-since"})


def relabel_text(text: str, labels: dict[str, str]) -> str:
    """Apply each replacement in turn, in the mapping's order (as a person reads the dict)."""
    for old, new in labels.items():
        if old:
            text = text.replace(old, new)
    return text


def _media_type(headers: Headers) -> tuple[str, str]:
    """(media type, charset) of a Content-Type header; utf-8 when no charset is given."""
    media, *params = (part.strip() for part in headers.get("content-type", "").split(";"))
    charset = "utf-8"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media.lower(), charset


def _rewritable(headers: Headers) -> bool:
    media, _ = _media_type(headers)
    # A compressed body cannot be edited as text; the sandbox never compresses anyway.
    encoding = headers.get("content-encoding", "identity").strip().lower()
    return media in REWRITTEN_TYPES and encoding in ("", "identity")


class Relabel:
    """ASGI middleware: apply `faults.labels` to the website's HTML and JavaScript."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One snapshot per response: a change while a body streams must not mix two sets.
        labels = dict(self.faults.labels)
        if (
            not labels
            or scope["type"] != "http"
            # A HEAD answer has no body to measure, so its Content-Length cannot be fixed.
            or scope.get("method") == "HEAD"
            or str(scope.get("path", "")).startswith(API_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        await self.app(_plain_request(scope), receive, _Rewriter(send, labels).send)


def _plain_request(scope: Scope) -> Scope:
    """The request without cache validators, and without the pathsend extension.

    Without validators every answer is a full 200 that can be relabelled; without pathsend a
    file comes as body messages (a server offering it would otherwise send the file itself).
    """
    scope = dict(scope)
    scope["headers"] = [
        (k, v) for k, v in scope.get("headers", []) if k.lower() not in _CONDITIONALS
    ]
    extensions = scope.get("extensions")
    if extensions and "http.response.pathsend" in extensions:
        scope["extensions"] = {k: v for k, v in extensions.items() if k != "http.response.pathsend"}
    return scope


class _Rewriter:
    """Holds back the start of a rewritable response until its whole body is known."""

    def __init__(self, send: Send, labels: dict[str, str]) -> None:
        self._send = send
        self._labels = labels
        self._start: Message | None = None
        self._chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if _rewritable(Headers(raw=message.get("headers", []))):
                self._start = message
                return
            await self._send(message)
            return
        if self._start is None or kind != "http.response.body":
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        start, self._start = self._start, None
        body = self._relabel(Headers(raw=start.get("headers", [])), b"".join(self._chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in _VALIDATORS]
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        await self._send({**start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    def _relabel(self, headers: Headers, body: bytes) -> bytes:
        _, charset = _media_type(headers)
        try:
            text = body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            return body  # not text we can edit: better unchanged than mangled
        return relabel_text(text, self._labels).encode(charset)
