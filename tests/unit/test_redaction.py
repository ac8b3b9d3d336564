from __future__ import annotations

import base64
import html
import json
import logging
import os
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from automation.redaction import REDACTOR, Redactor

MASK = Redactor.MASK
SECRET = "p@ss w/rd+ü&<x>"


@pytest.fixture
def redactor() -> Redactor:
    r = Redactor()
    r.add(SECRET, label="password")
    return r


def test_variants_cover_the_encodings_a_secret_takes_in_artifacts() -> None:
    raw = SECRET.encode()
    found = Redactor().variants(SECRET)
    expected = {
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        "p@ss w/rd+ü&amp;&lt;x&gt;",
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    assert expected <= found


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s,
        lambda s: quote(s, safe=""),
        quote_plus,
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        html.escape,
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    ],
)
def test_scrub_masks_each_variant(redactor: Redactor, encode: Callable[[str], str]) -> None:
    text = f'before "{encode(SECRET)}" after'
    assert redactor.scrub(text) == f'before "{MASK}" after'
    assert redactor.find(redactor.scrub(text)) == []
    assert redactor.find(text) == ["password"]


def test_scrub_replaces_every_occurrence(redactor: Redactor) -> None:
    assert redactor.scrub(f"{SECRET}-{SECRET}") == f"{MASK}-{MASK}"


def test_scrub_masks_the_longer_secret_whole() -> None:
    r = Redactor()
    r.add("abcd1234", "short")
    r.add("abcd1234xyz", "long")
    assert r.scrub("key=abcd1234xyz; again abcd1234.") == f"key={MASK}; again {MASK}."
    # added in the other order: same result
    r2 = Redactor()
    r2.add("abcd1234xyz", "long")
    r2.add("abcd1234", "short")
    assert r2.scrub("key=abcd1234xyz") == f"key={MASK}"


def test_overlapping_secrets_leave_no_piece_behind() -> None:
    r = Redactor()
    r.add("abcdef", "one")
    r.add("defghi", "two")
    assert r.scrub("xabcdefghix") == f"x{MASK}x"


def test_short_and_empty_values_are_ignored_but_a_6_digit_code_is_not() -> None:
    r = Redactor()
    r.add(None)
    r.add("")
    r.add("abc")
    assert len(r) == 0
    assert r.scrub("abc abc") == "abc abc"
    r.add("123456", "GA code")
    assert r.scrub("code 123456") == f"code {MASK}"
    assert r.values == frozenset({"123456"})


def test_scrub_bytes_is_binary_safe(redactor: Redactor) -> None:
    data = b"\x00\xff\x89PNG " + SECRET.encode() + b" \xfe"
    assert redactor.scrub_bytes(data) == b"\x00\xff\x89PNG " + MASK.encode() + b" \xfe"
    assert redactor.find(data) == ["password"]


def test_scrub_file_rewrites_in_place_keeping_mode(redactor: Redactor, tmp_path: Path) -> None:
    path = tmp_path / "log.bin"
    path.write_bytes(b"\xffheader " + quote_plus(SECRET).encode() + b"\n")
    os.chmod(path, 0o640)
    assert redactor.scrub_file(path) is True
    assert path.read_bytes() == b"\xffheader " + MASK.encode() + b"\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert redactor.scrub_file(path) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.bin"]


def test_scrub_zip_masks_inside_compressed_members(redactor: Redactor, tmp_path: Path) -> None:
    path = tmp_path / "trace.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("trace.trace", json.dumps({"fill": SECRET}))
        archive.writestr("resources/a.png", b"\x89PNG clean")
    assert redactor.find(path.read_bytes()) == []  # compressed: scrub_file would miss it
    assert redactor.scrub_zip(path) is True
    with zipfile.ZipFile(path) as archive:
        assert archive.read("trace.trace").decode() == json.dumps({"fill": MASK})
        assert archive.read("resources/a.png") == b"\x89PNG clean"
    assert redactor.scrub_zip(path) is False


def test_find_names_each_secret_present_once() -> None:
    r = Redactor()
    r.add("first-secret", "password")
    r.add("second-secret", "secret key")
    assert r.find("nothing here") == []
    text = "second-secret first-secret second-secret"
    assert r.find(text) == ["password", "secret key"]
    assert r.find(text.encode()) == ["password", "secret key"]


def test_logging_filter_scrubs_message_args_and_traceback(
    redactor: Redactor, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test.redaction")
    caplog.handler.addFilter(redactor.logging_filter())
    try:
        log.warning("login with %s for %d tries", SECRET, 3)
        log.warning(f"inline {SECRET}")
        try:
            raise ValueError(f"bad {SECRET}")
        except ValueError:
            log.exception("failed")
    finally:
        caplog.handler.filters.clear()
    assert SECRET not in caplog.text
    assert f"login with {MASK} for 3 tries" in caplog.text
    assert f"inline {MASK}" in caplog.text
    assert f"ValueError: bad {MASK}" in caplog.text


def test_values_is_a_read_only_snapshot(redactor: Redactor) -> None:
    values = redactor.values
    assert values == frozenset({SECRET})
    with pytest.raises(AttributeError):
        values.add("other")  # type: ignore[attr-defined]


def test_concurrent_adds_and_scrubs_are_safe() -> None:
    r = Redactor()
    values = [f"value-{i:04d}" for i in range(200)]

    def add(chunk: list[str]) -> None:
        for v in chunk:
            r.add(v)
            r.scrub(v)

    threads = [threading.Thread(target=add, args=(values[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.values == frozenset(values)
    assert r.scrub(" ".join(values)) == " ".join([MASK] * len(values))


def test_process_wide_instance_exists() -> None:
    assert isinstance(REDACTOR, Redactor)
