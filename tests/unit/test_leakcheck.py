"""The leak check's matching and rules, without tesseract: OCR text is given as strings here
(tests/e2e/test_leakcheck_catches.py reads real screenshots)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pyotp
import pytest

from sandbox.accounts import Account
from sandbox.mailer import build_verification_mail
from sandbox.state import KeyRequest, SandboxState
from tests.support.clock import Clock
from tests.support.leakcheck import (
    Finding,
    ScanStats,
    command_name,
    format_findings,
    ga_codes,
    held_secrets,
    is_legitimate_holder,
    legitimate_holder,
    read_dumps,
    sandbox_secrets,
    scan,
)
from tests.support.leakcheck_child import DUMP_DIR_ENV, mail_codes, sitecustomize_source
from tests.support.leaks import leaks
from tests.support.ocr import approx_find, fold, frame_time, png_width

KEY = "3fa8e1c2-9b7d4e6f-81a0c3d5-e7f92"
PASSWORD = "p@ss w/rd+ü&<x>"
CODE = "482913"


def misread(value: str) -> str:
    """What tesseract made of small monospace text: 3 -> J, 8 -> e, 1 -> l, 0 -> O."""
    return value.translate(str.maketrans("3810", "JelO"))


# --- approx_find ----------------------------------------------------------------------------


def test_the_exact_key_in_page_text_is_a_full_match() -> None:
    assert approx_find(KEY, f"API Key created\nSecret Key {KEY}\nCopy") == 1.0


def test_typical_misreads_cost_nothing_after_folding() -> None:
    text = f"Secret Key {misread(KEY).upper()} Copy"
    assert misread(KEY) != KEY
    assert approx_find(KEY, text) == 1.0


@pytest.mark.parametrize(
    "read",
    [
        "3fa8elc2-9b7d4e6f -81a0c3d5-e7f92",  # tesseract on a 40 px monospace line
        "3fa8elc2-9b/7d4e6f -81a0c3d5-e/7Ff92",  # the same, upscaled: extra glyphs
        "3fa8e1c2 9b7d4e6f 81a0c3d5 e7f92",  # dashes read as spaces
        "3fa8e1c2-9b7d4e6f-81a0c3d",  # cut at the edge of a field: 25 of 32 characters
        "3fx8e1c2-9q7d4r6f-81y0c3d5-e7w92",  # six wrong characters
    ],
)
def test_misread_keys_are_still_found(read: str) -> None:
    similarity = approx_find(KEY, f"Created at 2024-05-01 12:34:56\nSecret Key [{read}]")
    assert similarity is not None and similarity >= 0.75


def test_a_window_below_the_threshold_is_not_a_finding() -> None:
    # 23 of 32 characters: at best 2 * 23 / (32 + 30) = 0.74 in the narrowest window.
    assert approx_find(KEY, "Secret Key " + KEY[:23]) is None
    half = KEY[:14] + "zzzzzzzzzzzzzzzzzz"  # 14 of 32 characters
    assert approx_find(KEY, half) is None
    assert approx_find(KEY, half, threshold=0.4) is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "API Management  Create API Key  Access Key  Permissions  Read-only, Trade",
        "Access Key 1c9e2b7a-77d1e0b4-c0aa9f21-0bd3e  Secret Key ********",
        "uid 20000001 created 2024-05-01 12:34:56 expires 2024-07-30 12:34:56",
    ],
)
def test_unrelated_text_is_not_flagged(text: str) -> None:
    assert approx_find(KEY, text) is None
    assert approx_find(PASSWORD, text) is None


def test_a_password_with_misreads_and_spacing() -> None:
    secret = "Xk3_9aLqP-2mZw8v"
    assert approx_find(secret, "password: XK3_SaLqP-2mZwev") is not None  # 9 -> S, 8 -> e
    assert approx_find(secret, "password: Xk3_9a Lq P-2mZw8v") == 1.0
    assert approx_find(secret, "password: Yt7_4bMrQ-6nXu1w") is None


def test_the_fold_table() -> None:
    assert fold("OoIil|!ZzJjSsBbEe_—–~") == "00" + "11111" + "22" + "33" + "55" + "8888" + "----"
    assert fold("É") == "8"  # accent dropped, case folded, then e -> 8


def test_a_short_code_matches_only_exactly_and_whole() -> None:
    assert approx_find(CODE, f"Your verification code is {CODE}.") == 1.0
    assert approx_find(CODE, "Your code: 4 8 2 9 1 3") == 1.0  # six boxes, read apart
    assert approx_find(CODE, "Your code: 482 9l3") == 1.0  # l -> 1 still folds
    assert approx_find(CODE, "Your verification code is 482914.") is None  # 5 of 6: no
    assert approx_find(CODE, "Your verification code is 482931.") is None
    assert approx_find(CODE, "id 1482913 at 12:00") is None  # inside a longer number
    assert approx_find(CODE, "took 0.482913 s") is None  # a decimal's fraction
    assert approx_find(CODE, "elapsed 482913.5 ms") is None


# --- the byte check -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "encode"),
    [
        ("plain", lambda s: s),
        ("URL-encoded", lambda s: quote(s, safe="")),
        ("form-encoded", quote_plus),
        ("JSON-escaped", lambda s: json.dumps(s)[1:-1]),
        ("base64", lambda s: base64.b64encode(s.encode()).decode()),
        ("url-safe base64", lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")),
    ],
)
def test_every_encoding_of_a_secret_is_found_in_a_file(
    tmp_path: Path, form: str, encode: Callable[[str], str]
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "log.txt").write_text(f"before {encode(PASSWORD)} after")
    (tmp_path / "clean.txt").write_text("nothing here")
    found = scan([tmp_path], {"password": PASSWORD}, ocr_images=False)
    assert found == [Finding(tmp_path / "sub" / "log.txt", "password", "bytes")], form


def test_a_secret_inside_a_compressed_zip_member_is_found(tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    event = json.dumps({"type": "action", "params": {"value": PASSWORD}, "pad": "x" * 500})
    with zipfile.ZipFile(trace, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("trace.trace", event * 20)
        archive.writestr("resources/clean.json", "{}")
    assert json.dumps(PASSWORD)[1:-1].encode() not in trace.read_bytes()  # compressed away
    found = scan([trace], {"password": PASSWORD}, ocr_images=False)
    assert found == [Finding(trace, "password", "zip:trace.trace")]


def test_a_short_code_in_bytes_counts_only_as_a_number_of_its_own(tmp_path: Path) -> None:
    hits = {
        "form.txt": f"emailCode={CODE}&gaCode=",
        "event.json": json.dumps({"value": CODE}),
        "quoted.txt": f"body=%7B%22code%22%3A%22{CODE}%22%7D",
        "sentence.txt": f"Your verification code is {CODE}.",
    }
    misses = {
        # Digits of longer numbers and of decimals, as a trace is full of.
        "timestamps.json": f'{{"wallTime": 1714566{CODE}123, "monotonic": 9.{CODE}, "x": {CODE}7}}',
        "other.txt": "Your verification code is 482914.",
    }
    for name, text in {**hits, **misses}.items():
        (tmp_path / name).write_text(text)
    found = scan([tmp_path], {"email code": CODE}, ocr_images=False)
    assert sorted(f.path.name for f in found) == sorted(hits)


def test_values_shorter_than_four_characters_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc 123")
    assert scan([tmp_path], {"x": "abc", "y": "123"}, ocr_images=False) == []


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(PASSWORD)
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    (root / "file-link.txt").symlink_to(outside / "secret.txt")
    assert scan([root], {"password": PASSWORD}, ocr_images=False) == []


def test_leaks_reports_texts_files_and_zip_members(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "t.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", json.dumps(PASSWORD) * 50)
    found = leaks({"password": PASSWORD}, {"stdout": f"x {PASSWORD}", "stderr": ""}, [tmp_path])
    assert found == ["stdout: password", f"{tmp_path / 't.zip'} (zip:a.json): password"]


def test_findings_read_well() -> None:
    video = Path("/t/video.webm")
    text = format_findings(
        [
            Finding(Path("/t/shot.png"), "secret key", "ocr", 0.93751),
            Finding(Path("/t/trace.zip"), "password", "zip:trace.trace"),
            *(Finding(video, "secret key", f"ocr-video@{t}.0s", 1.0) for t in range(6)),
        ]
    )
    assert text == (
        "  /t/shot.png: secret key in ocr (0.94)\n"
        "  /t/trace.zip: password in zip:trace.trace\n"
        "  /t/video.webm: secret key in ocr-video@0.0s (1.00), ocr-video@1.0s (1.00), "
        "ocr-video@2.0s (1.00), ocr-video@3.0s (1.00), and 2 more"
    )
    assert str(Finding(Path("/t/a.png"), "x", "ocr", 0.8)) == "/t/a.png: x [ocr] (similarity 0.80)"


# --- what may hold secrets ------------------------------------------------------------------


def record(secret: str) -> dict[str, object]:
    return {"access_key": "a" * 32, "secret_key": secret, "note": "n", "permissions": ["read"]}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("keys.json", json.dumps([record(KEY)]), "key store"),
        ("rescue-20240501T000000Z-abcd.json", json.dumps([record(KEY)]), "key store"),
        ("anything.json", json.dumps([record(KEY), record("x" * 32)]), "key store"),
        ("session.json", json.dumps({"cookies": [{"value": KEY}], "origins": []}), "saved session"),
        ("sandbox.env", f"# made by htx-keys sandbox\nHTX_PASSWORD={PASSWORD}\n\n", ".env file"),
        ("key.env", f"export HTX_SECRET_KEY={KEY}\n", ".env file"),
    ],
)
def test_files_that_hold_secrets_on_purpose(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert legitimate_holder(path) == reason
    stats = ScanStats()
    assert scan([tmp_path], {"key": KEY}, is_legitimate_holder, ocr_images=False, stats=stats) == []
    assert stats.excluded == [path]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("keys.json", json.dumps({"secret_key": KEY})),  # not a list of records
        ("keys.json", json.dumps([record(KEY), {"note": KEY}])),  # one is no key record
        ("guide.json", json.dumps({"steps": [KEY]})),
        ("broken.json", KEY + "{"),
        ("keys.json.bak", json.dumps([record(KEY)])),  # a copy is not the store
        ("notes.env", f"HTX_SECRET_KEY={KEY}\nand a sentence with it: {KEY}\n"),
        ("guide.md", f"HTX_SECRET_KEY={KEY}\n"),
    ],
)
def test_other_files_are_scanned(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert legitimate_holder(path) is None
    found = scan([tmp_path], {"key": KEY}, is_legitimate_holder, ocr_images=False)
    assert [f.path for f in found] == [path]


def test_what_a_holder_holds_becomes_a_secret_to_look_for(tmp_path: Path) -> None:
    store = tmp_path / "keys.json"
    store.write_text(json.dumps([record(KEY)]))
    env = tmp_path / "sandbox.env"
    env.write_text(
        "# htx-keys sandbox\nHTX_BASE_URL=http://127.0.0.1:1\nHTX_EMAIL=demo@example.test\n"
        f"HTX_PASSWORD={PASSWORD!r}\nHTX_TOTP_SECRET=JBSWY3DPEHPK3PXP\n"
        "HTX_IMAP_PASSWORD_MAIN=imap-secret-9\nHTX_IMAP_PORT=1143\n"
    )
    session = tmp_path / "session.json"
    cookies = [{"name": "HB-SESSION", "value": "t" * 43}, {"name": "lang", "value": "en-us"}]
    session.write_text(json.dumps({"cookies": cookies, "origins": []}))
    assert held_secrets(store) == {"keys.json: secret key of aaaaaaaa": KEY}
    assert held_secrets(env) == {
        "sandbox.env: HTX_PASSWORD": PASSWORD,
        "sandbox.env: HTX_TOTP_SECRET": "JBSWY3DPEHPK3PXP",
        "sandbox.env: HTX_IMAP_PASSWORD_MAIN": "imap-secret-9",
    }
    assert held_secrets(session) == {"session.json: HB-SESSION": "t" * 43}
    (tmp_path / "log.txt").write_text("nothing")
    assert held_secrets(tmp_path / "log.txt") == {}


# --- collecting a sandbox run's secrets -----------------------------------------------------


def test_sandbox_secrets_collects_keys_codes_and_ga_steps() -> None:
    clock = Clock(1_714_566_000.0)
    account = Account(
        email="u@example.test",
        password="pw-" + "x" * 13,
        totp_secret=pyotp.random_base32(),
        uid=1,
        mailbox="u@example.test",
        sub_uids=(2,),
        auth_factors=("email", "sms", "ga"),
    )
    state = SandboxState([account], clock=clock)
    key = state.add_key(account, KeyRequest("n", ("read",), ()))
    sub_key = state.add_key(account, KeyRequest("sub", ("read",), ()))
    state.remove_key(account, sub_key.access_key)
    state.sub_keys[2] = [sub_key]  # as sandbox/subusers.py keeps a sub-user's key
    code = state.issue_email_code(account, "create")
    when = datetime.now(UTC)
    state.record_mail(
        account.mailbox, build_verification_mail(code, "create", account.mailbox, "x@htx.com", when)
    )
    sms = state.issue_sms_code(account, "create")
    ticket = state.check_password(account.email, account.password)
    session = state.finish_login(ticket, pyotp.TOTP(account.totp_secret).at(clock()))
    found = sandbox_secrets(state, "imap-pw-123", clock() - 40, clock() + 5, "site 1 ")
    values = found.values
    assert values["site 1 password"] == account.password
    assert values["site 1 TOTP seed"] == account.totp_secret
    assert values["site 1 IMAP password"] == "imap-pw-123"
    assert values[f"site 1 secret key of {key.access_key[:8]}"] == key.secret_key
    assert values[f"site 1 secret key of {sub_key.access_key[:8]}"] == sub_key.secret_key
    assert values["site 1 session cookie 1"] == session
    assert values["site 1 email code 1"] == code
    assert values["site 1 SMS code 1"] == sms
    totp = pyotp.TOTP(account.totp_secret)
    ga = {label: v for label, v in values.items() if "GA code" in label}
    assert totp.at(clock()) in ga.values() and totp.at(clock() - 40) in ga.values()
    assert set(ga) == found.bytes_only


def test_the_ga_codes_are_those_of_the_sandbox_step() -> None:
    """A sandbox run with a short GA step: the codes looked for are that step's."""
    clock = Clock(1_714_566_000.0)
    now = clock()
    account = Account(
        email="u@example.test",
        password="pw-" + "x" * 13,
        totp_secret=pyotp.random_base32(),
        uid=1,
        mailbox="u@example.test",
    )
    state = SandboxState([account], clock=clock, totp_step_s=5)
    found = sandbox_secrets(state, "imap-pw-123", now - 20, now)
    ga = {v for label, v in found.values.items() if "GA code" in label}
    short = pyotp.TOTP(account.totp_secret, interval=5)
    # Steps from one before `since` to one after `until`: 4 + 1 + 2.
    assert ga == {short.at(now + 5 * n) for n in range(-5, 2)}


def test_a_subprocess_dump_is_read_once_its_process_ended_in_the_window(tmp_path: Path) -> None:
    account = {"email": "a@x", "password": "pw-1234567890", "totp_secret": pyotp.random_base32()}
    dump = {
        "pid": 7,
        "argv": ["/venv/bin/htx-keys", "record", "--out", "x"],
        "started": 1000.0,
        "ended": 1060.0,
        "states": [{"accounts": [account], "secret_keys": {"abcdef0123": KEY}}],
        "imap_passwords": ["imap-1234"],
    }
    (tmp_path / "7-a.json").write_text(json.dumps(dump))
    found, errors = read_dumps(tmp_path, 990.0, 1100.0)
    assert errors == []
    assert found.values["[htx-keys record] password"] == "pw-1234567890"
    assert found.values["[htx-keys record] secret key of abcdef01"] == KEY
    assert found.values["[htx-keys record] IMAP password"] == "imap-1234"
    assert len(found.bytes_only) == 5  # GA steps 32 (one before) to 36 (one after)
    assert read_dumps(tmp_path, 1070.0, 1100.0)[0].values == {}  # ended before the window
    (tmp_path / "hook-error-8.json").write_text(json.dumps({"error": "boom"}))
    assert read_dumps(tmp_path, 0, 2000)[1] == ["pid ? : boom"]


def test_ga_codes_cover_the_steps_around_the_test() -> None:
    seed = pyotp.random_base32()
    since = time.time() - 100
    codes = ga_codes(seed, since, since + 100)
    assert len(codes) == 1 + (int(since + 100) // 30 + 1) - (int(since) // 30 - 1)
    assert pyotp.TOTP(seed).at(since - 30) in codes.values()


def test_mail_codes_reads_the_code_of_each_mail() -> None:
    when = datetime.now(UTC)
    mails = [
        ("u@x", build_verification_mail(c, "create", "u@x", "n@htx.com", when))
        for c in ("000111", "482913", "000111")
    ]
    assert mail_codes(mails) == ["000111", "482913"]


# --- OCR helpers that need no tesseract -----------------------------------------------------


def test_png_width_and_frame_time() -> None:
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (1280).to_bytes(4, "big") + b"\0" * 8
    assert png_width(header) == 1280
    assert png_width(b"\xff\xd8\xff\xe0") is None
    assert frame_time(Path("/tmp/x/at-000012.500s.png")) == 12.5
    with pytest.raises(ValueError):
        frame_time(Path("frame-00001.png"))


# --- the subprocess hook --------------------------------------------------------------------


def test_a_subprocess_reports_the_sandboxes_it_made(tmp_path: Path) -> None:
    """What `htx-keys demo`/`record` make in their own process reaches the check."""
    hook, dumps = tmp_path / "hook", tmp_path / "dumps"
    hook.mkdir()
    dumps.mkdir()
    (hook / "sitecustomize.py").write_text(sitecustomize_source())
    program = """
import pyotp
from sandbox.accounts import Account
from sandbox.mailserver import EmbeddedImap
from sandbox.state import KeyRequest, SandboxState
account = Account(email="c@x", password="child-password-1", totp_secret=pyotp.random_base32(),
                  uid=5, mailbox="c@x")
state = SandboxState([account])
state.add_key(account, KeyRequest("n", ("read",), ()))
EmbeddedImap("/nonexistent", password="child-imap-pass")
"""
    env = {**os.environ, "PYTHONPATH": str(hook), DUMP_DIR_ENV: str(dumps)}
    started = time.time()
    subprocess.run([sys.executable, "-c", program], env=env, check=True, cwd=tmp_path)
    found, errors = read_dumps(dumps, started, time.time())
    assert errors == []
    values = found.values
    assert values["[python -c] password"] == "child-password-1"
    assert values["[python -c] IMAP password"] == "child-imap-pass"
    assert any(label.startswith("[python -c] secret key of ") for label in values)
    # A process that makes no sandbox leaves nothing behind.
    subprocess.run([sys.executable, "-c", "import sandbox.state"], env=env, check=True)
    assert len(list(dumps.glob("*.json"))) == 1


def test_labels_name_the_command_not_its_arguments() -> None:
    assert command_name(["/venv/bin/htx-keys", "record", "--out", "/tmp/x"]) == "htx-keys record"
    assert command_name(["/venv/bin/htx-keys", "--format", "json"]) == "htx-keys"
    assert command_name(["-c", "/tmp/secret-path"]) == "python -c"
    assert command_name([]) == "python"
