"""The `htx-keys` command: the only package that imports click.

`main()` parses, calls a command and maps every failure to its exit status: one line
`htx-keys: error: ...` (and a hint line where one helps) on stderr, and the status of its
class (automation.errors.ExitStatus). Commands load lazily: `htx-keys --help` and
`htx-keys provision --help` import only click, the options and the command's own module; a
command's use cases (htx_keys/app) load when it runs. Progress goes to stderr, data to stdout.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from automation.errors import ExitStatus, HtxKeysError
from htx_keys.cli.console import print_error, print_traceback

# name -> "module:attribute" under htx_keys.cli.commands
COMMANDS = {
    "account": "account:account",
    "demo": "demo:demo",
    "doctor": "doctor:doctor",
    "exec": "exec:exec_command",
    "keys": "keys:keys",
    "login": "login:login",
    "logout": "login:logout",
    "mail": "mail:mail",
    "provision": "provision:provision",
    "record": "record:record",
    "sandbox": "sandbox:sandbox",
    "verify": "verify:verify",
}


class LazyGroup(click.Group):
    """A group whose commands are imported only when named (or listed by --help)."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, name = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"htx_keys.cli.commands.{module}"), name)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="htx-keys")
def cli() -> None:
    """Create HTX (Huobi) API keys by driving the HTX website, the way a careful person would.

    Settings come from flags, then the environment, then a .env file (see .env.example):
    HTX_EMAIL, HTX_PASSWORD, HTX_TOTP_SECRET, HTX_IMAP_* and more. Secrets are never flags.
    A mailbox that takes OAuth2 only (Microsoft): HTX_IMAP_AUTH=xoauth2 and `htx-keys mail login`.
    Try `htx-keys demo` to see a whole run against the built-in HTX replica.
    """


def fail(message: str, status: int, hint: str | None = None) -> int:
    print_error(message, hint)
    return status


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (CI cancelling a job, `kill`) and a hang-up (the terminal or SSH session closed)
    # take the same careful way out as Ctrl-C: a key being stored is rescued first, a key
    # `exec` made is revoked, browsers and servers are closed.
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    # Under `nohup` a hang-up is meant to be ignored: it stays so.
    if hangup is not None and signal.getsignal(hangup) != signal.SIG_IGN:
        signal.signal(hangup, _terminate)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the exit status of every outcome is decided here and only here."""
    from automation.redaction import scrub_log_records

    install_signal_handlers()
    scrub_log_records()  # what Playwright, urllib3, ccxt, imapclient or keyring log
    try:
        cli.main(args=argv, prog_name="htx-keys", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.Abort:
        return fail("aborted", ExitStatus.INTERRUPTED)
    except click.UsageError as exc:  # what click finds while parsing: unknown flags, bad values
        return fail(exc.format_message(), ExitStatus.USAGE)
    except click.ClickException as exc:
        return fail(exc.format_message(), ExitStatus.ERROR)
    except HtxKeysError as exc:
        if not exc.message:  # ExitWith: the command's output has said it all
            return exc.exit_status
        # Bad input and settings get exactly one line; hints are for failures mid-run.
        quiet_hint = exc.exit_status in (ExitStatus.USAGE, ExitStatus.CONFIG)
        return fail(exc.message, exc.exit_status, None if quiet_hint else exc.hint)
    except KeyboardInterrupt:
        return fail("interrupted", ExitStatus.INTERRUPTED)
    except Exception as exc:  # a bug or an unforeseen failure: still one scrubbed line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"unexpected {type(exc).__name__}: {detail}"
        if os.environ.get("HTX_KEYS_DEBUG"):
            print_traceback(exc)  # scrubbed too: messages and arguments can hold a secret
            return fail(message, ExitStatus.ERROR)
        return fail(message, ExitStatus.ERROR, "run again with HTX_KEYS_DEBUG=1 for the traceback")
    return ExitStatus.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
