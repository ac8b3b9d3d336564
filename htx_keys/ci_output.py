"""What `provision`, `keys rotate` and `exec` print for people and for CI.

- text / json: the key's facts, never the secret (htx_keys/output.py).
- github: `::add-mask::` for the access key and the secret key the moment the pair is read
  (before any other line could carry them; GitHub masks only what it was told before), then
  the text summary; step outputs go to $GITHUB_OUTPUT, and with --export-env the pair goes
  to $GITHUB_ENV as HTX_ACCESS_KEY / HTX_SECRET_KEY for later steps.
- env: `export HTX_ACCESS_KEY=... HTX_SECRET_KEY=...` lines for `eval`, only with
  --show-secret, since they print the secret.
With several keys (`--count`) the names get a suffix: HTX_ACCESS_KEY_1, access_key_1, ...
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from automation.errors import ConfigError, InputError, StoreError, VerifyError
from automation.redaction import REDACTOR
from automation.store import KeyRecord
from flows.htx.verify import Verification
from htx_keys.output import key_summary, render

FORMATS = ("text", "json", "github", "env")
F = TypeVar("F", bound=Callable[..., Any])


def key_output_options(func: F) -> F:
    """--format (text, json, github, env), --show-secret, --export-env and --quiet."""
    func = click.option(
        "--export-env",
        is_flag=True,
        help="With --format github: also put HTX_ACCESS_KEY and HTX_SECRET_KEY in "
        "$GITHUB_ENV for the job's later steps.",
    )(func)
    func = click.option(
        "--show-secret",
        is_flag=True,
        help="Allow output that contains the secret key (needed by --format env).",
    )(func)
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="text/json: the key's facts, never the secret. github: ::add-mask:: lines, "
        "then outputs in $GITHUB_OUTPUT. env: export lines for eval (needs --show-secret).",
    )(func)
    func = click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")(func)
    return func


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
            for name in ("GITHUB_OUTPUT", *(("GITHUB_ENV",) if self.export_env else ())):
                if not self.environ.get(name):
                    raise ConfigError(
                        f"--format github writes to ${name}, which is not set "
                        "(GitHub Actions sets it in every step)"
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
