"""The run's set of secret values, and the scrubbing of every output that could carry one.

Playwright traces, screenshots, videos, logs and error messages record what was typed and what
the page showed, so a password or a captured secret key can end up in any of them. Every secret
enters REDACTOR the moment it is loaded or captured, and every output passes through it.

A value is looked for in the encodings it is likely to take on its way into an artifact: as is,
URL-encoded (form posts, query strings), JSON-escaped (trace events, HAR), HTML-escaped (page
snapshots) and base64 (HTTP basic auth, data URLs, binary trace payloads).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import AnyStr, BinaryIO
from urllib.parse import quote, quote_plus

from automation.files import atomic_write

# Shorter values would match all over ordinary text and turn every output into noise.
MIN_LENGTH = 4


class Redactor:
    MASK = "********"

    def __init__(self) -> None:
        # Providers (config, otp, mail, the flow) add from worker threads while outputs scrub.
        self._lock = threading.Lock()
        self._labels: dict[str, str] = {}  # value -> label, in the order added
        # Immutable snapshots rebuilt on add(), so scrubbing works without holding the lock.
        self._text: tuple[tuple[str, str], ...] = ()
        self._bytes: tuple[tuple[bytes, str], ...] = ()

    def add(self, value: str | None, label: str = "secret") -> None:
        """Register a secret; None, empty and very short values are ignored."""
        if not value or len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value in self._labels:
                return
            self._labels[value] = label
            text = set(self._text) | {(v, label) for v in self.variants(value)}
            # Longest first, so a secret that contains another is masked as a whole.
            ordered = sorted(text, key=lambda pair: (-len(pair[0]), pair[0], pair[1]))
            self._text = tuple(ordered)
            self._bytes = tuple((v.encode("utf-8"), lab) for v, lab in ordered)

    def clear(self) -> None:
        """Forget every value (tests, or a long-lived process starting a new run)."""
        with self._lock:
            self._labels.clear()
            self._text = ()
            self._bytes = ()

    @property
    def values(self) -> frozenset[str]:
        """The registered values as given (a snapshot: adding goes through add())."""
        with self._lock:
            return frozenset(self._labels)

    def __len__(self) -> int:
        with self._lock:
            return len(self._labels)

    def variants(self, value: str) -> set[str]:
        raw = value.encode("utf-8")
        found = {
            value,
            quote(value, safe=""),
            quote_plus(value),
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            html.escape(value),
            html.escape(value, quote=False),
        }
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(raw).decode("ascii")
            found.add(encoded)
            found.add(encoded.rstrip("="))
        return {v for v in found if v}

    def scrub(self, text: str) -> str:
        with self._lock:
            patterns = self._text
        return _mask(text, (v for v, _ in patterns), self.MASK)

    def scrub_bytes(self, data: bytes) -> bytes:
        with self._lock:
            patterns = self._bytes
        return _mask(data, (v for v, _ in patterns), self.MASK.encode("ascii"))

    def scrub_file(self, path: Path) -> bool:
        """Mask secrets in a file in place, keeping its mode; True if it changed.

        Works on the raw bytes, so any file can be passed. A compressed file (a trace .zip)
        hides its content from this: use scrub_zip() for those.
        """
        data = Path(path).read_bytes()
        cleaned = self.scrub_bytes(data)
        if cleaned == data:
            return False
        atomic_write(Path(path), cleaned, mode=os.stat(path).st_mode & 0o7777)
        return True

    def scrub_zip(self, path: Path) -> bool:
        """Mask secrets inside every member of a zip archive (a Playwright trace); True if any.

        Member names, dates and compression are kept so the trace viewer still opens it.
        """
        path = Path(path)
        changed = False
        members: list[tuple[zipfile.ZipInfo, bytes]] = []
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                data = archive.read(info)
                cleaned = self.scrub_bytes(data)
                changed = changed or cleaned != data
                members.append((info, cleaned))
        if not changed:
            return False

        def write(out: BinaryIO) -> None:
            with zipfile.ZipFile(out, "w") as archive:
                for info, data in members:
                    archive.writestr(info, data)

        atomic_write(path, write, mode=os.stat(path).st_mode & 0o7777)
        return True

    def find(self, data: str | bytes) -> list[str]:
        """Labels of the secrets present in data, each once, in the order they were added."""
        with self._lock:
            order = list(self._labels.values())
            patterns: Iterable[tuple[str | bytes, str]] = (
                self._text if isinstance(data, str) else self._bytes
            )
            present = {lab for v, lab in patterns if v in data}  # type: ignore[operator]
        return list(dict.fromkeys(lab for lab in order if lab in present))

    def logging_filter(self) -> logging.Filter:
        """A filter that masks secrets in records. Attach it to handlers: a logger's own
        filters do not see records propagated from its children."""
        return _ScrubFilter(self)


class _ScrubFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self.redactor.scrub
        try:
            # Merge the args first: a secret can sit in an arg's str() as well as in msg.
            message = record.getMessage()
        except Exception:
            # A malformed call: leave the error to the handler, but with nothing secret in it.
            record.msg = scrub(str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        else:
            record.msg = scrub(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def scrub_log_records(redactor: Redactor | None = None) -> None:
    """Scrub every log record this process makes, from any library, before any handler sees
    it: Playwright, urllib3, ccxt, imapclient and keyring log under child loggers
    ("ccxt.base.exchange", "urllib3.connectionpool"), which a filter on a parent logger never
    sees, and handlers can be added later or not at all (logging's last resort). So the scrub
    filter runs where every record is made: the record factory. Once per process."""
    current = logging.getLogRecordFactory()
    if getattr(current, "scrubs", False):
        return
    scrub = _ScrubFilter(redactor or REDACTOR)

    def make_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = current(*args, **kwargs)
        scrub.filter(record)
        return record

    make_record.scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def _mask(data: AnyStr, needles: Iterable[AnyStr], mask: AnyStr) -> AnyStr:
    """Replace every occurrence of every needle with mask.

    Overlapping and nested occurrences are merged into one span, so no piece of any secret
    survives whichever order the values were added in.
    """
    spans: list[tuple[int, int]] = []
    for needle in needles:
        at = data.find(needle)
        while at != -1:
            spans.append((at, at + len(needle)))
            at = data.find(needle, at + 1)
    if not spans:
        return data
    spans.sort()
    pieces: list[AnyStr] = []
    pos = 0
    start, end = spans[0]
    for s, e in spans[1:]:
        if s < end:
            end = max(end, e)
            continue
        pieces += [data[pos:start], mask]
        pos, start, end = end, s, e
    pieces += [data[pos:start], mask, data[end:]]
    return data[:0].join(pieces)


# The process-wide instance: every secret enters here when it is loaded or captured.
REDACTOR = Redactor()
