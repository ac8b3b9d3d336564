"""Which sandboxes a process made, and what secrets they held: for the leak check.

`htx-keys demo`, `record` and `sandbox` make their sandbox account, IMAP password, keys and
codes inside their own process, where a test cannot see them; yet their artifacts must be
checked for exactly those values. During a test session every Python subprocess loads this file
(through a sitecustomize.py the leak check puts first on PYTHONPATH, see
tests/support/leakcheck_plugin.py); `install()` then tracks each SandboxState and EmbeddedImap
the process makes and, when it exits, writes their secrets as JSON into the directory named by
DUMP_DIR_ENV.

The same Tracker records the sandboxes the test process itself makes. Standard library only
(and the sandbox, once the process imports it): this runs at the start of every subprocess.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import json
import os
import re
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # this module loads into every subprocess: import no more than it needs
    from email.message import EmailMessage

# Not HTX_*: tests/support/cli.py drops every HTX_ variable from a child's environment.
DUMP_DIR_ENV = "LEAKCHECK_DUMP_DIR"
_CODE_IN_MAIL = re.compile(r"verification code is\s*(\d{6})")
_SIX_DIGITS = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def mail_codes(outbox: Iterable[tuple[str, EmailMessage]]) -> list[str]:
    """The verification codes in the mails a sandbox sent, oldest first, each once."""
    codes: list[str] = []
    for _rcpt, msg in outbox:
        body = msg.get_body(("plain",))
        text = body.get_content() if body is not None else msg.as_string()
        found = _CODE_IN_MAIL.findall(text) or _SIX_DIGITS.findall(text)[:1]
        codes += [c for c in found if c not in codes]
    return codes


def state_snapshot(state: Any) -> dict[str, Any]:
    """The secrets a sandbox state holds now, as plain JSON-able data."""
    with state.lock:
        accounts = [
            {"email": a.email, "password": a.password, "totp_secret": a.totp_secret}
            for a in state.accounts
        ]
        keys = [k for a in state.accounts for k in state.keys_for(a.email)]
        keys += [k for sub in state.sub_keys.values() for k in sub]
        # The sandbox keeps no public list of sessions: a token is as good as the password
        # while it lasts (design.md, Secrets). Sessions already ended are gone from it.
        sessions = list(getattr(state, "_sessions", {}))
        mails = list(state.outbox)
        sms = [text.code for text in state.sms_outbox]
    return {
        # The GA codes the leak check computes must be of the step this sandbox ran with.
        "totp_step_s": state.totp_step_s,
        "accounts": accounts,
        "secret_keys": {k.access_key: k.secret_key for k in keys},
        "sessions": sessions,
        "email_codes": mail_codes(mails),
        "sms_codes": list(dict.fromkeys(sms)),
    }


class Tracker:
    """Keeps every SandboxState and EmbeddedImap made while it is installed, with the time."""

    def __init__(self) -> None:
        self.states: list[tuple[float, Any]] = []
        self.imaps: list[tuple[float, Any]] = []
        self._lock = threading.Lock()

    def wrap(self, cls: type, kept: list[tuple[float, Any]]) -> Callable[[], None]:
        """Make cls.__init__ record each new instance; returns the undo."""
        original = cls.__dict__["__init__"]
        lock = self._lock

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            with lock:
                kept.append((time.time(), self))

        type.__setattr__(cls, "__init__", __init__)
        return lambda: type.__setattr__(cls, "__init__", original)

    def made_between(self, since: float, until: float) -> tuple[list[Any], list[Any]]:
        with self._lock:
            return (
                [s for t, s in self.states if since <= t <= until],
                [i for t, i in self.imaps if since <= t <= until],
            )

    def snapshot(self, started: float) -> dict[str, Any]:
        with self._lock:
            states = [s for _t, s in self.states]
            imaps = [i for _t, i in self.imaps]
        return {
            "pid": os.getpid(),
            "argv": sys.argv,
            "started": started,
            "ended": time.time(),
            "states": [state_snapshot(s) for s in states],
            "imap_passwords": [i.password for i in imaps],
        }


_TRACKED = {"sandbox.state": "SandboxState", "sandbox.mailserver": "EmbeddedImap"}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Wraps the classes' __init__ as soon as their modules are imported (never imports them
    itself: most subprocesses never touch the sandbox)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TRACKED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        loader = spec.loader
        assert loader is not None
        exec_module = loader.exec_module
        tracker = self.tracker

        def patched_exec(module: types.ModuleType) -> None:
            exec_module(module)
            cls = getattr(module, _TRACKED[fullname])
            kept = tracker.states if fullname == "sandbox.state" else tracker.imaps
            tracker.wrap(cls, kept)

        loader.exec_module = patched_exec  # type: ignore[method-assign]
        return spec


def install() -> None:
    """In a subprocess: track, and write what was tracked at exit (nothing if nothing was)."""
    folder = os.environ.get(DUMP_DIR_ENV)
    if not folder:
        return
    started = time.time()
    tracker = Tracker()
    sys.meta_path.insert(0, _PatchOnImport(tracker))

    def dump() -> None:
        if not tracker.states and not tracker.imaps:
            return
        try:
            data = tracker.snapshot(started)
        except Exception as exc:  # reported by the check: a silent gap would be worse
            data = {"pid": os.getpid(), "argv": sys.argv, "error": repr(exc)}
        path = os.path.join(folder, f"{os.getpid()}-{uuid.uuid4().hex}.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)

    atexit.register(dump)


SITECUSTOMIZE = """\
# Written by the htx-keys leak check (tests/support/leakcheck_child.py) for one test session.
import importlib.util as _util

_spec = _util.spec_from_file_location("_htx_leakcheck_child", {path!r})
_child = _util.module_from_spec(_spec)
try:
    _spec.loader.exec_module(_child)
    _child.install()
except Exception as _exc:  # never break the program under test
    import json as _json
    import os as _os

    _folder = _os.environ.get({env!r})
    if _folder:
        with open(_os.path.join(_folder, f"hook-error-{{_os.getpid()}}.json"), "w") as _out:
            _json.dump({{"error": repr(_exc), "started": 0, "ended": 0}}, _out)
"""


def sitecustomize_source() -> str:
    return SITECUSTOMIZE.format(path=os.path.abspath(__file__), env=DUMP_DIR_ENV)
