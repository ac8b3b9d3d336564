"""The accounts file, edited in place: only the account's own lines change, comments elsewhere
stay, and every edit is parsed back and compared before it replaces the file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.accounts import parse_accounts, read_document
from automation.errors import ConfigError
from automation.files import atomic_write
from automation.locks import file_lock
from automation.store_base import one_line


def toml_value(value: Any) -> str:
    """A TOML literal for the value types an account table holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # Python's inf, 1e+20 and 120.0 are TOML's too
    if isinstance(value, str):
        # A JSON string is a TOML basic string, once DEL (raw in JSON, not in TOML) is escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _section(lines: list[str], name: str) -> tuple[int, int] | None:
    """Line span of [accounts.NAME], without the comments that lead into the next table."""
    quoted = re.escape(name)
    header = re.compile(rf"""\s*\[\s*accounts\s*\.\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*\]""")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    if end < len(lines):
        while end - 1 > start and (
            not lines[end - 1].strip() or lines[end - 1].lstrip()[:1] == "#"
        ):
            end -= 1
    return start, end


def _edit_keys(lines: list[str], span: tuple[int, int], updates: Mapping[str, Any]) -> list[str]:
    """Replace each key's own line, or add it after the table's last line; keeps comments."""
    start, end = span
    body = lines[start + 1 : end]
    last = max((i for i, line in enumerate(body) if line.strip()), default=-1)
    added: list[str] = []
    for key, value in updates.items():
        line = f"{key} = {toml_value(value)}\n"
        at = next((i for i, text in enumerate(body) if re.match(rf"\s*{key}\s*=", text)), None)
        if at is None:
            added.append(line)
        else:
            body[at] = line  # a value spanning lines leaves debris: the check-back catches it
    body[last + 1 : last + 1] = added
    return [*lines[: start + 1], *body, *lines[end:]]


def _render_table(name: str, table: Mapping[str, Any]) -> list[str]:
    return [f"[accounts.{name}]\n", *(f"{k} = {toml_value(v)}\n" for k, v in table.items())]


def _replace_table(lines: list[str], name: str, table: Mapping[str, Any] | None) -> list[str]:
    """The whole table rewritten (or removed with None), or appended when it has no header."""
    span = _section(lines, name)
    new = [] if table is None else _render_table(name, table)
    if span is None:
        gap = ["\n"] if lines and lines[-1].strip() else []
        if lines and not lines[-1].endswith("\n"):
            lines = [*lines[:-1], lines[-1] + "\n"]
        return [*lines, *gap, *new]
    start, end = span
    return [*lines[:start], *new, *lines[end:]]


def _checked(text: str, path: Path, expected: Mapping[str, Any]) -> bool:
    """True when the text parses, passes every check and holds exactly `expected`."""
    try:
        text.encode("utf-8")  # a lone surrogate (undecodable argv) cannot be written
        data = tomllib.loads(text)
        parse_accounts(data, path)
    except (tomllib.TOMLDecodeError, ConfigError, UnicodeEncodeError):
        return False
    return bool(data.get("accounts", {}) == expected)


def plan_update(path: Path, name: str, updates: Mapping[str, Any]) -> tuple[str, bool]:
    """The file's new text with the account's table created or updated, and whether it
    changed. Checked before anything is written; nothing here touches the disk."""
    document = read_document(path)
    text, data = document if document is not None else ("", {})
    accounts = parse_accounts(data, path)
    tables = dict(data.get("accounts", {}))
    if name in accounts and all(tables[name].get(k) == v for k, v in updates.items()):
        return text, False
    expected = {**tables, name: {**tables.get(name, {}), **updates}}
    lines = text.splitlines(keepends=True)
    span = _section(lines, name)
    candidates = []
    if span is not None:
        candidates.append(_edit_keys(lines, span, updates))
    candidates.append(_replace_table(lines, name, expected[name]))
    for candidate in candidates:
        if _checked("".join(candidate), path, expected):
            return "".join(candidate), True
    raise ConfigError(
        f"{path}: cannot update [accounts.{name}] safely (written in an unusual form); "
        "edit it by hand"
    )


def plan_removal(path: Path, name: str) -> str | None:
    """The file's new text without the account's table; None when it has none."""
    document = read_document(path)
    if document is None:
        return None
    text, data = document
    accounts = parse_accounts(data, path)
    if name not in accounts:
        return None
    expected = {k: v for k, v in data.get("accounts", {}).items() if k != name}
    candidate = "".join(_replace_table(text.splitlines(keepends=True), name, None))
    if _checked(candidate, path, expected):
        return candidate
    raise ConfigError(
        f"{path}: cannot remove [accounts.{name}] safely (written in an unusual form); "
        "edit it by hand"
    )


def write_accounts(path: Path, text: str) -> None:
    """Write the file 0600 (it names mailboxes and hosts); a directory made here is 0700.

    Only inside `accounts_lock(path)`, with `text` planned inside it too."""
    target = _make_parent(path)
    try:
        atomic_write(target, text.encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {one_line(exc)}") from None


def accounts_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """Serialise edits of the accounts file (two `account set` at once must both land)."""
    target = _make_parent(path)
    return file_lock(target.with_name(target.name + ".lock"), error=ConfigError)


def update_accounts(path: Path, name: str, updates: Mapping[str, Any]) -> bool:
    """Plan and write [accounts.NAME]'s changes under the file's lock; whether it changed."""
    with accounts_lock(path):
        text, changed = plan_update(path, name, updates)
        if changed:
            write_accounts(path, text)
    return changed


def remove_table(path: Path, name: str) -> bool:
    """Remove [accounts.NAME] under the file's lock; False when it has none (any more)."""
    with accounts_lock(path):
        text = plan_removal(path, name)
        if text is not None:
            write_accounts(path, text)
    return text is not None


def _make_parent(path: Path) -> Path:
    """The file's real path, its missing directories made 0700."""
    target = Path(os.path.realpath(path))  # a symlinked file stays a symlink
    missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for directory in missing:
            os.chmod(directory, 0o700)  # only those made here: never a shared one like /tmp
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {one_line(exc)}") from None
    return target
