"""What commands print on stdout, for people and for CI: the one place output is formatted.

- text / json: a key's facts, never its secret.
- github: `::add-mask::` for the access key and the secret key the moment the pair is read
  (before any other line could carry them; GitHub masks only what it was told before), then
  the text summary; step outputs go to $GITHUB_OUTPUT, and with --export-env the pair goes
  to $GITHUB_ENV as HTX_ACCESS_KEY / HTX_SECRET_KEY for later steps.
- env: `export HTX_ACCESS_KEY=... HTX_SECRET_KEY=...` lines for `eval`, only with
  --show-secret, since they print the secret.
With several keys (`--count`) the names get a suffix: HTX_ACCESS_KEY_1, access_key_1, ...
Tables of keys (`keys list`, `reconcile`, `verify`) are here too. Everything is scrubbed by
the redactor as a last guard.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from automation.errors import ConfigError, InputError, StoreError, VerifyError
from automation.redaction import REDACTOR
from automation.store import KeyRecord
from flows.htx.verify import Verification

PERMISSION_NAMES = {"read": "Read-only", "trade": "Trade", "withdraw": "Withdraw"}


# Every field key_summary gives, in its order (some only when they apply: a sub-user's uid, a
# lease, a verification): a list of summaries (provision --accounts) gives each all of them.
SUMMARY_FIELDS = (
    "access_key",
    "note",
    "permissions",
    "ip_addresses",
    "created_at",
    "expires_at",
    "stored_in",
    "sub_uid",
    "lease_until",
    "verified",
    "read_back",
    "verification_note",
)


def key_summary(
    record: KeyRecord, stored_in: str, verification: Verification | None = None
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "access_key": record.access_key,
        "note": record.note,
        "permissions": list(record.permissions),
        "ip_addresses": list(record.ip_addresses),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "stored_in": stored_in,
    }
    if record.sub_uid is not None:
        summary["sub_uid"] = record.sub_uid
    if record.lease_until is not None:
        summary["lease_until"] = record.lease_until  # `keys reap` deletes it from then on
    if verification is not None:
        # true: works and reads back as asked; false: it does not; null: not checkable here
        summary["verified"] = verification.verified
        summary["read_back"] = verification.read_back
        if verification.reason:
            summary["verification_note"] = verification.reason
    return summary


def render(summary: dict[str, Any], fmt: str) -> str:
    """JSON or text; scrubbed as a last guard even though no secret is put in."""
    if fmt == "json":
        return REDACTOR.scrub(json.dumps(summary, indent=2))
    ips = ", ".join(summary["ip_addresses"]) or "none"
    expiry = expiry_text(summary)
    perms = ", ".join(PERMISSION_NAMES.get(p, p) for p in summary["permissions"])
    title = f"Created API key {summary['access_key']}"
    if "sub_uid" in summary:
        title += f" for sub-user {summary['sub_uid']}"
    lines = [
        title,
        f"  note          {summary['note']}",
        f"  permissions   {perms}",
        f"  IP addresses  {ips}",
        f"  created       {summary['created_at']}",
        f"  expires       {expiry}",
        f"  stored in     {summary['stored_in']}",
    ]
    if summary.get("lease_until"):
        lines.insert(-1, f"  lease ends    {summary['lease_until']} (then `keys reap` deletes it)")
    back = summary.get("read_back") or {}
    if "valid_days" in back and back["valid_days"] is not None:
        days = back["valid_days"]
        shown = "permanent" if int(days) < 0 else f"{days} days left"
        lines.append(f"  HTX says      {shown} (validDays, HTX's own count)")
    if "verified" in summary:
        lines.append(f"  verified      {verification_text(summary)}")
    return REDACTOR.scrub("\n".join(lines))


def expiry_text(summary: dict[str, Any]) -> str:
    """`expires_at` is an estimate: HTX deactivates a key that can trade or withdraw and has no
    IP bound after 90 days *without use*, so each use moves the date on."""
    if summary["expires_at"]:
        return f"{summary['expires_at']} if unused (90 days without a call; each use restarts them)"
    if summary["ip_addresses"]:
        return "never (IP addresses bound)"
    return "never (a read-only key without IP addresses)"


def verification_text(summary: dict[str, Any]) -> str:
    verified = summary.get("verified")
    if verified is True:
        return "yes: a signed call works and HTX reads back the same note, permissions and IPs"
    word = "no" if verified is False else "skipped"
    return f"{word}: {summary.get('verification_note', '')}"


FORMATS = ("text", "json", "github", "env")


@dataclass
class Made:
    record: KeyRecord
    stored_in: str
    verification: Verification | None = None
    created: bool = True  # False: an existing key `--count` kept


@dataclass
class KeyOutput:
    fmt: str = "text"
    show_secret: bool = False
    export_env: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    masked: set[str] = field(default_factory=set)
    write_outputs: bool = True  # False for `exec`: masks only, the key goes to its command

    def check(self) -> None:
        """Before any browser: the asked-for output must be possible."""
        if self.fmt == "env" and not self.show_secret:
            raise InputError("--format env prints the secret key: add --show-secret to allow it")
        if self.export_env and self.fmt != "github":
            raise InputError("--export-env goes with --format github")
        if self.fmt == "github" and self.write_outputs:
            names = ("GITHUB_OUTPUT", *(("GITHUB_ENV",) if self.export_env else ()))
            for name in names:
                if not self.environ.get(name):
                    raise ConfigError(
                        f"--format github writes to ${name}, which is not set "
                        "(GitHub Actions sets it in every step)"
                    )
            # Found now, not once the key exists: a key made and then not handed on is one
            # more to clean up.
            for name in names:
                problem = _unwritable(Path(self.environ[name]))
                if problem:
                    raise ConfigError(
                        f"--format github writes to ${name} ({self.environ[name]}), which "
                        f"cannot be written: {problem}"
                    )

    def on_key(self, record: KeyRecord) -> None:
        """Called the moment a pair is read, before it is stored or printed anywhere."""
        if self.fmt != "github":
            return
        for value in (record.access_key, record.secret_key):
            if value and value not in self.masked:
                self.masked.add(value)
                self.stream.write(f"::add-mask::{value}\n")
        self.stream.flush()

    def report(self, made: list[Made], *, several: bool = False) -> None:
        """Print (and write for CI) what was made; then fail if a new key does not work."""
        for item in made:
            self.on_key(item.record)  # an existing key, or one made without the hook
        summaries = [self._summary(m, several) for m in made]
        if self.fmt == "json":
            data: Any = summaries if several else summaries[0]
            self._echo(REDACTOR.scrub(json.dumps(data, indent=2)))
        elif self.fmt == "env":
            self._echo("\n".join(self._env_lines(made, several)))
        else:
            self._echo("\n\n".join(_text(s) for s in summaries))
        if self.fmt == "github":
            self._write_github(made, several)
        failed = [m for m in made if m.verification and m.verification.status == "failed"]
        if failed:
            first = failed[0]
            assert first.verification is not None
            raise VerifyError(
                f"Key {first.record.access_key} was created and stored in {first.stored_in}, "
                f"but it does not check out: {first.verification.reason}",
                hint="delete it with `htx-keys keys revoke` and create it again",
            )

    def _summary(self, made: Made, several: bool) -> dict[str, Any]:
        summary = key_summary(made.record, made.stored_in, made.verification)
        if several:
            summary["created"] = made.created  # False: a key `--count` found and kept
        return summary

    def _env_lines(self, made: list[Made], several: bool) -> list[str]:
        lines = []
        for n, item in enumerate(made, 1):
            suffix = f"_{n}" if several else ""
            for name, value in _pair(item.record):
                lines.append(f"export {name}{suffix}={shlex.quote(value)}")
        return lines

    def _write_github(self, made: list[Made], several: bool) -> None:
        outputs = [("count", str(len(made)))] if several else []
        env: list[tuple[str, str]] = []
        for n, item in enumerate(made, 1):
            suffix = f"_{n}" if several else ""
            record = item.record
            outputs += [
                (f"access_key{suffix}", record.access_key),
                (f"secret_key{suffix}", record.secret_key),
                (f"note{suffix}", record.note),
                (f"expires_at{suffix}", record.expires_at or ""),
            ]
            if record.lease_until:  # `keys reap` deletes the key from then on
                outputs.append((f"lease_until{suffix}", record.lease_until))
            env += [(f"{name}{suffix}", value) for name, value in _pair(record)]
        _append(Path(self.environ["GITHUB_OUTPUT"]), outputs)
        if self.export_env:
            _append(Path(self.environ["GITHUB_ENV"]), env)

    def _echo(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def _pair(record: KeyRecord) -> list[tuple[str, str]]:
    return [("HTX_ACCESS_KEY", record.access_key), ("HTX_SECRET_KEY", record.secret_key)]


def _text(summary: dict[str, Any]) -> str:
    text = render(summary, "text")
    if not summary.get("created", True):
        text = text.replace("Created API key", "Existing API key", 1)
    return text


def _unwritable(path: Path) -> str | None:
    """Why lines cannot be appended to `path` (None: they can), found without writing: the
    file opened for appending as `_append` will, or, when it does not exist yet, its folder."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    except FileNotFoundError:
        folder = path.parent
        if not folder.is_dir():
            return os.strerror(errno.ENOENT)
        if not os.access(folder, os.W_OK | os.X_OK):
            return os.strerror(errno.EACCES)
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(fd)
    return None


def _append(path: Path, pairs: list[tuple[str, str]]) -> None:
    """NAME=value lines, as GitHub reads them; a value with a newline is refused."""
    for name, value in pairs:
        if "\n" in value or "\r" in value:
            raise StoreError(f"Output {name} holds a line break and cannot be written to {path}")
    try:
        with path.open("a", encoding="utf-8") as out:
            out.writelines(f"{name}={value}\n" for name, value in pairs)
    except OSError as exc:
        raise StoreError(f"Cannot write to {path}: {exc.strerror or exc}") from None


# --- tables of existing keys -----------------------------------------------------------------
def render_rows(rows: list[dict[str, Any]]) -> str:
    """A list of rows as JSON (`--format json` of `keys list`, `verify`, `reconcile`)."""
    return REDACTOR.scrub(json.dumps(rows, indent=2))


def _aligned(lines: Sequence[Sequence[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return REDACTOR.scrub(
        "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )
    )


def key_table(rows: list[dict[str, Any]]) -> str:
    """`keys list` as text: one line a key, columns aligned."""
    if not rows:
        return "No keys."
    head = ("ACCESS KEY", "NOTE", "PERMISSIONS", "IP ADDRESSES", "VALID DAYS", "STATUS", "SECRET")
    lines = [head]
    for r in rows:
        valid = "permanent" if r["valid_days"] is None and r["on_exchange"] else r["valid_days"]
        lines.append(
            (
                r["access_key"],
                r["note"],
                ",".join(r["permissions"]),
                ",".join(r["ip_addresses"]) or "-",
                "-" if valid is None else str(valid),
                r["status"],
                "held" if r["secret_held"] else "not held",
            )
        )
    return _aligned(lines)


def deletion_table(rows: list[dict[str, Any]]) -> str:
    """What a bulk delete will do (rows of deletes.Planned.row()): shown before the question
    and by --dry-run."""
    if not rows:
        return "Nothing to delete."
    lines = [("ACCESS KEY", "NOTE", "CREATED", "ACTION")]
    for r in rows:
        action = "delete" if r["verdict"] == "delete" else f"leave alone: {r['verdict']}"
        if r.get("why"):
            action += f" ({r['why']})"
        lines.append((r["access_key"], r["note"], r["created_at"] or "-", action))
    return _aligned(lines)


ORPHAN_WORDS = {"delete": "Orphan", "too new to judge": "Too new to judge"}


def orphan_report(rows: list[dict[str, Any]], fmt: str) -> str:
    """`keys reconcile`: the orphans and the keys too new to judge (rows of
    deletes.Planned.row() with `revoked` and `left`), or that there are none."""
    if fmt == "json":
        return render_rows(rows)
    if not rows:
        return "No orphans: every key this tool made on HTX is held here."
    lines = []
    for row in rows:
        word = "Revoked orphan" if row.get("revoked") else ORPHAN_WORDS[row["verdict"]]
        line = f"{word} {row['access_key']}  {row['note']}  created {row['created_at'] or '-'}"
        why = row.get("left") or row.get("why")
        lines.append(f"{line}  ({why})" if why else line)
    return REDACTOR.scrub("\n".join(lines))


def verify_report(rows: list[dict[str, Any]], fmt: str) -> str:
    """`verify`: one line a stored key (ok, FAILED or skipped, and why)."""
    if fmt == "json":
        return render_rows(rows)
    words = {True: "ok", False: "FAILED", None: "skipped"}
    lines = []
    for row in rows:
        line = f"{row['access_key']}  {words[row['verified']]:<7}  {row['note']}"
        if row["verification_note"]:
            line += f"  ({row['verification_note']})"
        lines.append(line)
    return REDACTOR.scrub("\n".join(lines))
