"""The leak check over test artifacts: no secret value in any file's bytes, in any member of a
zip archive (a Playwright trace compresses its events), or in what OCR reads off a screenshot, a
screencast frame inside a trace, a sampled video frame (WebM and MP4), a GIF's frames or a
PDF's pages.

The byte check looks for every form automation.redaction.Redactor.variants() gives a value
(plain, URL-encoded, JSON-escaped, HTML-escaped, base64): the same forms the tool scrubs.
The OCR check is approximate (tests/support/ocr.py): misread characters still match.

Some files hold secrets on purpose: the key stores, .env files and saved sessions a test asked
the tool to write. `legitimate_holder()` names them by their content; `scan()` takes the rule as
its `exclude` argument, so what is skipped is explicit at the call site.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dotenv

from automation.redaction import Redactor
from sandbox.login_state import TOTP_STEP_S, SeedTotp
from sandbox.state import SandboxState
from tests.support import ocr
from tests.support.leakcheck_child import state_snapshot

# Values this short are noise in any text (and the tool's redactor ignores them too).
MIN_VALUE = 4
# OCR of at most this many images inside one archive (a trace holds a screencast frame per
# action, hundreds on a long run): sampled evenly, first and last included.
MAX_ARCHIVE_IMAGES = 10
VIDEO_SUFFIXES = (".webm", ".mp4", ".mkv")
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_WEBM = b"\x1a\x45\xdf\xa3"
_ZIP = b"PK\x03\x04"
_GIF = (b"GIF87a", b"GIF89a")
_PDF = b"%PDF-"
_DATA_URL = re.compile(rb"data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=\s]+)")
_ENV_LINE = re.compile(r"^\s*(#.*|(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=.*)?$")


@dataclass(frozen=True)
class Finding:
    path: Path
    secret_label: str
    # "bytes" | "zip:<member>" | "ocr" | "ocr-zip:<member>" | "ocr-video@<t>s"
    # | "ocr-gif:<frame>" | "ocr-pdf:<page>"
    # | "ocr-data-url:<n>" (the n-th image embedded in an HTML or Markdown file)
    how: str
    similarity: float = 1.0

    def __str__(self) -> str:
        score = (
            ""
            if self.how == "bytes" or self.how.startswith("zip:")
            else (f" (similarity {self.similarity:.2f})")
        )
        return f"{self.path}: {self.secret_label} [{self.how}]{score}"


@dataclass
class ScanStats:
    """What a scan looked at and how long it took; filled in by scan() when given."""

    files: int = 0
    excluded: list[Path] = field(default_factory=list)
    bytes_scanned: int = 0
    images_ocred: int = 0
    videos: int = 0  # videos, GIFs and PDFs: files read through their frames or pages
    seconds: float = 0.0


def format_findings(findings: Iterable[Finding], most: int = 4) -> str:
    """One line per file and secret, naming where (at most `most` places, then a count):
    an unmasked key in a video is in every frame, and thirty lines would hide the others."""
    grouped: dict[tuple[Path, str], list[Finding]] = {}
    for finding in findings:
        grouped.setdefault((finding.path, finding.secret_label), []).append(finding)
    lines = []
    for (path, label), group in grouped.items():
        places = [
            f.how
            if f.how == "bytes" or f.how.startswith("zip:")
            else f"{f.how} ({f.similarity:.2f})"
            for f in group
        ]
        more = f", and {len(places) - most} more" if len(places) > most else ""
        lines.append(f"  {path}: {label} in {', '.join(places[:most])}{more}")
    return "\n".join(lines)


# --- what may hold a secret -----------------------------------------------------------------


def legitimate_holder(path: Path) -> str | None:
    """Why `path` may hold secrets on purpose, or None for a file that must hold none.

    Judged by content rather than name, so a guide or log named keys.json is still scanned:
      - a key store: a JSON list of records with "secret_key" (`--store json:`, the rescue
        files rescue-*.json, the demo's demo-keys.json);
      - a .env file (name ending in .env) of only NAME=VALUE lines and comments: an
        `--store env-file:` store, or the settings `htx-keys sandbox --write-env` writes;
      - a saved browser session: Playwright's storage state, a JSON object with "cookies"
        and "origins" (`--session file:PATH`).
    Mailboxes hold the verification codes too, but the mail servers keep them outside the
    test's tmp_path (Dovecot in a session temp dir, the demo's pymap in its own).
    """
    name = path.name
    if name.endswith(".json"):
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if (
            isinstance(data, list)
            and data
            and all(isinstance(r, dict) and "secret_key" in r for r in data)
        ):
            return "key store"
        if isinstance(data, dict) and isinstance(data.get("cookies"), list) and "origins" in data:
            return "saved session"
        return None
    if name.endswith(".env"):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if all(_ENV_LINE.match(line) for line in text.splitlines()):
            return ".env file"
    return None


# The secret settings a .env file may hold (also per account: HTX_PASSWORD_MAIN...).
_SECRET_ENV = re.compile(r"^HTX_(PASSWORD|TOTP_SECRET|IMAP_PASSWORD|SECRET_KEY)(_\w+)?$")
# Cookie and storage values shorter than this are settings ("en-us"), not tokens.
MIN_TOKEN = 16


def held_secrets(path: Path) -> dict[str, str]:
    """The secrets a legitimate holder holds (label -> value): what the tool wrote on purpose
    there must appear nowhere else. This is how secrets a tool run in a subprocess made (a
    sandbox's settings, a created key) become known to the check without the test's help."""
    kind = legitimate_holder(path)
    found: dict[str, str] = {}
    if kind == "key store":
        for record in json.loads(path.read_bytes()):
            access = str(record.get("access_key", ""))[:8]
            found[f"{path.name}: secret key of {access}"] = str(record["secret_key"])
    elif kind == ".env file":
        values = dotenv.dotenv_values(path, interpolate=False)
        for name, value in values.items():
            if value and _SECRET_ENV.match(name):
                found[f"{path.name}: {name}"] = value
    elif kind == "saved session":
        state = json.loads(path.read_bytes())
        items = [*state.get("cookies", [])]
        items += [i for o in state.get("origins", []) for i in o.get("localStorage", [])]
        for item in items:
            value = str(item.get("value", ""))
            if len(value) >= MIN_TOKEN:
                found[f"{path.name}: {item.get('name', '?')}"] = value
    return found


def is_legitimate_holder(path: Path) -> bool:
    return legitimate_holder(path) is not None


def never(path: Path) -> bool:
    return False


# --- byte matching --------------------------------------------------------------------------


class _Needles:
    """Every byte form of every secret; short ones (codes) only as whole numbers."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        redactor = Redactor()
        self.plain: list[tuple[bytes, str]] = []
        self.numbers: list[tuple[bytes, str]] = []
        for label, value in secrets.items():
            if not value or len(value) < MIN_VALUE:
                continue
            for variant in sorted(redactor.variants(value)):
                raw = variant.encode("utf-8")
                if len(value) < ocr.SHORT_VALUE and variant.isdigit():
                    self.numbers.append((raw, label))
                else:
                    self.plain.append((raw, label))

    def labels_in(self, data: bytes) -> list[str]:
        found = {label for raw, label in self.plain if raw in data}
        found |= {label for raw, label in self.numbers if _whole_number_in(raw, data)}
        return sorted(found)


_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _whole_number_in(number: bytes, data: bytes) -> bool:
    """Whether `number` occurs in `data` as a number of its own.

    A 6-digit code is a substring of countless timestamps in a trace: it counts only where it
    is not inside a longer number nor a decimal's fraction ("9.482913"). A percent-escape just
    before it ("%22" + code, URL-encoded JSON) ends in a digit and is still a boundary.
    (bytes.find, not a regex: a look-behind at the start of a pattern makes the regex engine
    try every position, 80 s over a 26 MB trace instead of milliseconds.)
    """
    at = data.find(number)
    while at != -1:
        end = at + len(number)
        before, after = data[max(0, at - 3) : at], data[end : end + 2]
        escaped = len(before) == 3 and before[0] == 0x25 and all(c in _HEX for c in before[1:])
        digit_before = bool(before) and before[-1] in _DIGITS
        fraction = len(before) >= 2 and before[-1] == 0x2E and before[-2] in _DIGITS
        digit_after = bool(after) and after[0] in _DIGITS
        decimal = len(after) == 2 and after[0] == 0x2E and after[1] in _DIGITS
        if (escaped or not (digit_before or fraction)) and not (digit_after or decimal):
            return True
        at = data.find(number, at + 1)
    return False


# --- the scan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OcrJob:
    path: Path
    how: str
    load: Callable[[], bytes]


def _files(
    roots: Iterable[Path], exclude: Callable[[Path], bool], stats: ScanStats
) -> Iterator[Path]:
    for root in roots:
        root = Path(root)
        if root.is_symlink() or not root.exists():
            continue
        if root.is_file():
            if exclude(root):
                stats.excluded.append(root)
            else:
                yield root
            continue
        for folder, dirs, names in os.walk(root):
            # Symlinked folders are not followed: they point outside what the test wrote.
            dirs[:] = sorted(d for d in dirs if not (Path(folder) / d).is_symlink())
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    continue
                if exclude(path):
                    stats.excluded.append(path)
                    continue
                yield path


def _given(data: bytes) -> Callable[[], bytes]:
    def load() -> bytes:
        return data

    return load


def _is_image(data: bytes) -> bool:
    return data.startswith(_PNG) or data.startswith(_JPEG)


def _is_video(path: Path, data: bytes) -> bool:
    # An MP4 (ISO base media) says "ftyp" at offset 4, whatever its name.
    return path.suffix.lower() in VIDEO_SUFFIXES or data.startswith(_WEBM) or data[4:8] == b"ftyp"


def _evenly(items: list[str], most: int) -> list[str]:
    if len(items) <= most:
        return items
    step = (len(items) - 1) / (most - 1)
    return [items[round(i * step)] for i in range(most)]


def scan(
    paths: Iterable[Path],
    secrets: Mapping[str, str],
    exclude: Callable[[Path], bool] = never,
    *,
    bytes_only: Collection[str] = (),
    ocr_images: bool = True,
    stats: ScanStats | None = None,
) -> list[Finding]:
    """Every place under `paths` (files, or folders walked recursively) where a secret shows.

    `secrets` maps a label to a value. Labels in `bytes_only` are never looked for by OCR (GA
    codes: a window of them is computed, and numbers on a page are read loosely enough to hit
    one by chance). `ocr_images=False` leaves out OCR (and needs no tesseract).
    """
    stats = stats if stats is not None else ScanStats()
    started = time.monotonic()
    needles = _Needles(secrets)
    findings: list[Finding] = []
    jobs: list[_OcrJob] = []
    videos: list[Path] = []
    for path in _files(paths, exclude, stats):
        data = path.read_bytes()
        stats.files += 1
        stats.bytes_scanned += len(data)
        findings += [Finding(path, label, "bytes") for label in needles.labels_in(data)]
        if data.startswith(_ZIP):
            findings += _scan_zip(path, data, needles, jobs, stats)
        elif _is_image(data):
            jobs.append(_OcrJob(path, "ocr", _given(data)))
        elif _is_video(path, data) or data.startswith(_GIF) or data.startswith(_PDF):
            videos.append(path)  # read frame by frame, or page by page
        elif b"data:image/" in data:
            # A self-contained guide.html carries its pictures as data: URLs. Mostly the
            # same bytes as steps/*.png, which are then read once (see _ocr_all).
            for n, match in enumerate(_DATA_URL.finditer(data), start=1):
                try:
                    image = base64.b64decode(re.sub(rb"\s+", b"", match.group(1)))
                except ValueError:
                    continue
                if _is_image(image):
                    jobs.append(_OcrJob(path, f"ocr-data-url:{n}", _given(image)))
    looked_for = {
        label: value
        for label, value in secrets.items()
        if label not in bytes_only and value and len(value) >= MIN_VALUE
    }
    if ocr_images and looked_for and (jobs or videos):
        findings += _ocr_all(jobs, videos, looked_for, stats)
    stats.seconds += time.monotonic() - started
    return sorted(findings, key=lambda f: (str(f.path), f.how, f.secret_label))


def _scan_zip(
    path: Path, data: bytes, needles: _Needles, jobs: list[_OcrJob], stats: ScanStats
) -> list[Finding]:
    findings: list[Finding] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return findings  # bytes that start like a zip but are not one: checked as bytes above
    images: list[str] = []
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = archive.read(info)
            stats.bytes_scanned += len(member)
            how = f"zip:{info.filename}"
            findings += [Finding(path, label, how) for label in needles.labels_in(member)]
            if _is_image(member):
                images.append(info.filename)
    for name in _evenly(images, MAX_ARCHIVE_IMAGES):

        def load(name: str = name) -> bytes:
            with zipfile.ZipFile(path) as again:
                return again.read(name)

        jobs.append(_OcrJob(path, f"ocr-zip:{name}", load))
    return findings


def _ocr_all(
    jobs: list[_OcrJob], videos: list[Path], secrets: Mapping[str, str], stats: ScanStats
) -> list[Finding]:
    frame_dirs: list[Path] = []
    try:
        for video in videos:
            frames_dir = Path(tempfile.mkdtemp(prefix="leakcheck-frames-"))
            frame_dirs.append(frames_dir)
            jobs += _frame_jobs(video, frames_dir)
            stats.videos += 1

        # Identical images (a still page across video frames, a repeated screencast frame)
        # are read once.
        images = [job.load() for job in jobs]
        unique = list(dict.fromkeys(hashlib.sha256(data).digest() for data in images))
        by_digest = {hashlib.sha256(data).digest(): data for data in images}

        def read(digest: bytes) -> dict[str, float]:
            text = ocr.ocr_image(by_digest[digest])
            return {
                label: similarity
                for label, value in secrets.items()
                if (similarity := ocr.approx_find(value, text)) is not None
            }

        # One single-threaded tesseract per core (ocr._tesseract_env): the images are
        # independent, and this is what keeps a record test's ~15 shots and 30 frames short.
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            hits = dict(zip(unique, pool.map(read, unique), strict=True))
        stats.images_ocred += len(unique)
        return [
            Finding(job.path, label, job.how, similarity)
            for job, data in zip(jobs, images, strict=True)
            for label, similarity in hits[hashlib.sha256(data).digest()].items()
        ]
    finally:
        for folder in frame_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def _frame_jobs(path: Path, frames_dir: Path) -> list[_OcrJob]:
    """The pictures a video, GIF or PDF shows, to be read: sampled video frames, every GIF
    frame, every PDF page (pdftoppm)."""
    with path.open("rb") as file:
        head = file.read(8)
    if head.startswith(_PDF):
        pages = ocr.pdf_pages(path, frames_dir)
        return [_OcrJob(path, f"ocr-pdf:{n}", p.read_bytes) for n, p in enumerate(pages, 1)]
    if head.startswith(_GIF):
        frames = ocr.gif_frames(path, frames_dir)
        return [_OcrJob(path, f"ocr-gif:{n}", f.read_bytes) for n, f in enumerate(frames, 1)]
    return [
        _OcrJob(path, f"ocr-video@{ocr.frame_time(frame):.1f}s", frame.read_bytes)
        for frame in _video_samples(path, frames_dir)
    ]


def _video_samples(path: Path, frames_dir: Path) -> list[Path]:
    """Frames of a video. An MP4 beside its WebM (`record`'s video.mp4, an encoding of
    video.webm) gets half as many, each between two of the WebM's: together they sample the
    run twice as densely for one and a half times the reading."""
    twin = path.with_suffix(".webm")
    if path.suffix.lower() != ".mp4" or not twin.is_file():
        return ocr.video_frames(path, out_dir=frames_dir)
    every = max(1.0, ocr.video_duration(twin) / ocr.MAX_VIDEO_FRAMES)
    return ocr.video_frames(
        path,
        2 * every,
        max_frames=ocr.MAX_VIDEO_FRAMES // 2,
        out_dir=frames_dir,
        offset_s=every / 2,
    )


# --- the secrets of a sandbox run -----------------------------------------------------------


def ga_codes(seed: str, since: float, until: float, step_s: int = TOTP_STEP_S) -> dict[int, str]:
    """The GA code of every time step from one before `since` to one after `until`: the
    codes the account could have been shown or sent while the test ran (the site takes the
    current and the previous step; the tool may wait for the next)."""
    # SeedTotp: pyotp >= 2.10 refuses the 16-character seeds HTX hands out.
    totp = SeedTotp(seed, interval=step_s)
    first, last = int(since) // step_s - 1, int(until) // step_s + 1
    return {step: totp.at(step * step_s) for step in range(first, last + 1)}


@dataclass
class SandboxSecrets:
    """Labelled secret values, and the labels only the byte check looks for."""

    values: dict[str, str] = field(default_factory=dict)
    bytes_only: set[str] = field(default_factory=set)

    def update(self, other: SandboxSecrets) -> None:
        self.values.update(other.values)
        self.bytes_only |= other.bytes_only


def snapshot_secrets(
    snapshot: Mapping[str, Any], since: float, until: float, prefix: str = ""
) -> SandboxSecrets:
    """Labelled secrets from what leakcheck_child.Tracker.snapshot() (or a subprocess's dump)
    recorded: per sandbox, every account's password and TOTP seed, the GA codes of the time
    steps from `since` to `until` (bytes only: see scan()), every API key's secret key, the
    open session tokens, every email and SMS code sent; and every embedded IMAP password."""
    out = SandboxSecrets()
    states = snapshot.get("states", [])
    for n, state in enumerate(states, start=1):
        here = f"{prefix}sandbox {n} " if len(states) > 1 else prefix
        accounts = state.get("accounts", [])
        for account in accounts:
            who = f"{here}{account['email']} " if len(accounts) > 1 else here
            out.values[f"{who}password"] = account["password"]
            out.values[f"{who}TOTP seed"] = account["totp_secret"]
            codes = ga_codes(
                account["totp_secret"], since, until, state.get("totp_step_s", TOTP_STEP_S)
            )
            for step, code in codes.items():
                label = f"{who}GA code of step {step}"
                out.values[label] = code
                out.bytes_only.add(label)
        for access, secret in state.get("secret_keys", {}).items():
            out.values[f"{here}secret key of {access[:8]}"] = secret
        for i, token in enumerate(state.get("sessions", []), start=1):
            out.values[f"{here}session cookie {i}"] = token
        for i, code in enumerate(state.get("email_codes", []), start=1):
            out.values[f"{here}email code {i}"] = code
        for i, code in enumerate(state.get("sms_codes", []), start=1):
            out.values[f"{here}SMS code {i}"] = code
    for i, password in enumerate(snapshot.get("imap_passwords", []), start=1):
        if password:
            out.values[f"{prefix}IMAP password" + (f" {i}" if i > 1 else "")] = password
    return out


def sandbox_secrets(
    state: SandboxState, imap_password: str, since: float, until: float, prefix: str = ""
) -> SandboxSecrets:
    """Every secret value one sandbox (and the IMAP password its mail goes behind) held
    while a test ran, read at its end: see snapshot_secrets()."""
    snapshot = {"states": [state_snapshot(state)], "imap_passwords": [imap_password]}
    return snapshot_secrets(snapshot, since, until, prefix)


def command_name(argv: list[str]) -> str:
    """'htx-keys record' for labels: the program and its subcommand, never its arguments."""
    if not argv:
        return "python"
    if argv[0] == "-c":
        return "python -c"
    name = Path(argv[0]).name
    if len(argv) > 1 and re.fullmatch(r"[a-z][a-z-]*", argv[1]):
        name += f" {argv[1]}"
    return name


def read_dumps(folder: Path, since: float, until: float) -> tuple[SandboxSecrets, list[str]]:
    """The secrets of the subprocesses that exited between `since` and `until` (their dumps,
    see leakcheck_child.install), and the errors of any whose hook failed."""
    out = SandboxSecrets()
    errors: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            dump = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            errors.append(f"{path.name}: unreadable ({exc})")
            continue
        if "error" in dump:
            errors.append(f"pid {dump.get('pid', '?')} {dump.get('argv', '')}: {dump['error']}")
            path.unlink()  # reported once
            continue
        if not since <= dump["ended"] <= until:
            continue
        found = snapshot_secrets(
            dump, dump["started"], dump["ended"], f"[{command_name(dump['argv'])}] "
        )
        out.update(found)
    return out, errors
