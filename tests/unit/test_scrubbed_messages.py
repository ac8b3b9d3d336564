"""Every message goes through the redactor: what libraries log, and every line the commands
print themselves (the HTX_KEYS_DEBUG traceback: tests/unit/test_cli_input.py)."""

from __future__ import annotations

import ast
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.redaction import REDACTOR, Redactor
from tests.support.cli import invoke

ROOT = Path(__file__).resolve().parents[2]
SECRET = "library-log-secret-5081"
MASK = Redactor.MASK


@pytest.fixture
def restore_record_factory() -> Iterator[None]:
    """main() scrubs records for the rest of its process; here, for this test only."""
    original = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(original)


@pytest.mark.parametrize(
    ("parent", "child"),
    [
        ("playwright", "playwright._impl._connection"),
        ("urllib3", "urllib3.connectionpool"),
        ("ccxt", "ccxt.base.exchange"),
        ("imapclient", "imapclient.imaplib"),
        ("keyring", "keyring.backend"),
        ("", "some.other.library"),  # the root logger's handlers
    ],
)
@pytest.mark.usefixtures("restore_record_factory")
def test_library_log_records_are_scrubbed_wherever_they_are_handled(
    parent: str, child: str
) -> None:
    """Libraries log under child loggers, and a handler may sit on any ancestor: the record
    is scrubbed when it is made, whoever handles it."""
    REDACTOR.add(SECRET, label="test")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    owner = logging.getLogger(parent or None)
    logger = logging.getLogger(child)
    owner.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert invoke(["--version"]).exit_code == 0  # main() sets up the scrubbing
        logger.debug("GET /v2/user?token=%s HTTP/1.1", SECRET)
        try:
            raise ConnectionError(f"refused for {SECRET}")
        except ConnectionError:
            logger.exception("request failed")
    finally:
        owner.removeHandler(handler)
        logger.setLevel(level)
    text = stream.getvalue()
    assert SECRET not in text
    assert f"{child}: GET /v2/user?token={MASK} HTTP/1.1\n" in text
    assert f"ConnectionError: refused for {MASK}" in text


def test_scrubbing_is_set_up_once(restore_record_factory: None) -> None:
    invoke(["--version"])
    factory = logging.getLogRecordFactory()
    assert getattr(factory, "scrubs", False)
    invoke(["--version"])
    assert logging.getLogRecordFactory() is factory  # not wrapped once per call


# What writes to the terminal without going through htx_keys/cli/console.py.
WRITERS = {"print", "click.echo", "click.secho", "sys.stdout.write", "sys.stderr.write"}


def _unscrubbed_writes(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or ast.unparse(node.func) not in WRITERS:
            continue
        if not (node.args and _scrubbed(node.args[0])):
            yield f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:70]}"


def _scrubbed(text: ast.expr) -> bool:
    """REDACTOR.scrub(...), optionally followed by a literal: `scrub(text) + "\\n"`."""
    if isinstance(text, ast.BinOp) and isinstance(text.right, ast.Constant):
        text = text.left
    return isinstance(text, ast.Call) and ast.unparse(text.func).endswith(".scrub")


def test_no_message_bypasses_the_redactor() -> None:
    """Commands print through console.echo / echo_err / print_error; the use cases through the
    Reporter. A direct print, click.echo or sys.stderr.write passes only with its text
    scrubbed in the same call."""
    console = ROOT / "htx_keys" / "cli" / "console.py"
    found = [
        line
        for package in ("automation", "flows", "htx_keys")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != console
        for line in _unscrubbed_writes(path)
    ]
    assert found == []
