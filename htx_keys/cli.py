"""The `htx-keys` command: parse, build settings, call, map errors to exit codes.

Kept thin: the work is in provisioning.py, demo.py and sandbox_cmd.py. Progress goes to stderr,
data to stdout. Every expected failure prints one line `htx-keys: error: ...` (and a hint line
where one helps) and exits with its own status (automation.errors.ExitStatus).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from automation.errors import ExitStatus, HtxKeysError
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.session import NoSession, open_session_store
from automation.store import check_store, open_store
from flows.htx.limits import MAX_KEYS, MAX_NOTE, check_request
from htx_keys.account_cli import account as account_group
from htx_keys.account_cli import account_options
from htx_keys.ci_output import KeyOutput, Made, key_output_options
from htx_keys.doctor import doctor
from htx_keys.exec_cli import exec_command
from htx_keys.keys_cli import keys, verify
from htx_keys.options import (
    artifact_modes,
    artifact_options,
    ask_person,
    browser_options,
    command_settings,
    ip_option,
    output_options,
    parent_key_option,
    permission_option,
    prompt_missing_secrets,
    prompt_run_secrets,
    remote_browser_options,
    session_option,
    site_options,
    store_option,
)
from htx_keys.record import record
from htx_keys.sandbox_cmd import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="htx-keys")
def cli() -> None:
    """Create HTX (Huobi) API keys by driving the HTX website, the way a careful person would.

    Settings come from flags, then the environment, then a .env file (see .env.example):
    HTX_EMAIL, HTX_PASSWORD, HTX_TOTP_SECRET, HTX_IMAP_* and more. Secrets are never flags.
    Try `htx-keys demo` to see a whole run against the built-in HTX replica.
    """


@cli.command()
@click.option("--note", required=True, help=f"The key's note (1-{MAX_NOTE} characters).")
@permission_option()
@click.option(
    "--allow-withdraw", is_flag=True, help="Allow the withdraw permission (off by default)."
)
@ip_option()
@store_option
@click.option(
    "--sub-uid",
    type=click.IntRange(min=1),
    help="Make the key for this sub-user over REST (no browser), signed with a stored "
    "parent key that has Trade permission.",
)
@parent_key_option
@click.option(
    "--no-verify",
    is_flag=True,
    help="Skip checking the new key with signed REST calls.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1, max=MAX_KEYS),
    help="Make sure N keys with this note exist and are held here: only the missing ones "
    "are created, in one browser session. A re-run creates nothing.",
)
@click.option(
    "--allow-duplicate",
    is_flag=True,
    help="With --count: create N more keys, whatever already exists.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each page to answer.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where a run's pictures, trace and video go, in OUTPUT/<run-id>/ "
    "[default: the state dir's runs/].",
)
@artifact_options(trace="off", video="off", screenshot="retain-on-failure")
@key_output_options
@session_option
@browser_options
@site_options
@account_options
def provision(
    note: str,
    permissions: tuple[str, ...],
    allow_withdraw: bool,
    ips: tuple[str, ...],
    store_spec: str | None,
    sub_uid: int | None,
    parent_key: str | None,
    no_verify: bool,
    count: int | None,
    allow_duplicate: bool,
    timeout: float,
    output: Path | None,
    trace: str,
    video: str,
    screenshot: str,
    fmt: str,
    quiet: bool,
    show_secret: bool,
    export_env: bool,
    headed: bool,
    browser_path: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
    session_spec: str,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Log in, create one API key, store it, verify it and print what was made.

    The Access Key / Secret Key pair goes to the OS keyring (service htx-keys) unless --store
    says otherwise; stdout shows the access key and its facts, never the secret (unless
    --format env --show-secret). The new key is then checked with signed REST calls
    (`verified` in the output). The note gets the tool's tag ("ci-bot [htx-keys]", see
    HTX_KEYS_NOTE_TAG) so `keys reconcile` can tell the tool's keys from others.
    """
    out = KeyOutput(fmt, show_secret, export_env)
    settings = command_settings(
        base_url, api_url, env_file, account, config_file, store=store_spec, browser=browser_path
    )
    request = check_request(
        note,
        permissions or settings.default_permissions or ("read",),
        ips or settings.default_ips,
        allow_withdraw=allow_withdraw,
        tag=settings.note_tag,
    )
    out.check()
    if parent_key and sub_uid is None:
        raise click.UsageError("--parent-key goes with --sub-uid")
    if allow_duplicate and count is None:
        raise click.UsageError("--allow-duplicate goes with --count")
    reporter = Reporter(quiet=quiet)
    if sub_uid is not None:
        from htx_keys.subuser import check_sub_user_request, pick_parent, provision_sub_user

        if count is not None:
            raise click.UsageError("--count makes the account's own keys; not with --sub-uid")
        check_sub_user_request(request)
        settings = prompt_missing_secrets(settings, ("totp_secret",))
        settings.require("email", "totp_secret")
        store = open_store(settings.store)
        check_store(store)
        parent = pick_parent(store, settings.email or "", parent_key)
        record, stored_in, verification = provision_sub_user(
            settings, request, store, parent, sub_uid, reporter, verify=not no_verify
        )
        out.report([Made(record, stored_in, verification)])
        return
    if count is not None:
        from htx_keys.count import provision_count
        from htx_keys.web_run import WEB_KEYS, WebRun

        web = {name: value for name, value in locals().items() if name in WEB_KEYS}
        run = WebRun.from_options(web, quiet=quiet, verify=not no_verify, on_key=out.on_key)
        made = provision_count(run, request, count, allow_duplicate=allow_duplicate)
        out.report(made, several=True)
        return

    from htx_keys.provisioning import RunOptions, prepare
    from htx_keys.provisioning import provision as run_provision

    session = open_session_store(session_spec, settings.base_url, settings.email or "")
    settings = prompt_run_secrets(settings, session)
    options = RunOptions(
        headed=headed,
        timeout_ms=timeout * 1000,
        artifacts_root=output,
        artifacts=artifact_modes(trace, video, screenshot),
        verify=not no_verify,
        cdp_endpoint=cdp_endpoint,
        ws_endpoint=ws_endpoint,
        session=session,
        ask=ask_person,
        on_key=out.on_key,
    )
    prep = prepare(settings, request, open_store(settings.store), options)
    result = run_provision(prep, options, reporter)
    waited = f" ({reporter.waited:.0f} s of it waiting on HTX's timers)" if reporter.waited else ""
    reporter.info(f"done in {result.run.seconds:.1f} s{waited}")
    out.report([Made(result.record, result.stored_in, result.verification)])


@cli.command()
@click.option("--headless", is_flag=True, help="No browser window (then a captcha stops it).")
@click.option(
    "--captcha-timeout",
    type=click.FloatRange(min=10),
    default=180.0,
    show_default=True,
    help="Seconds a person has to solve a captcha.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@session_option
@click.option(
    "--browser",
    "browser_path",
    metavar="PATH",
    help="Chromium/Chrome to use [env HTX_KEYS_BROWSER].",
)
@remote_browser_options
@site_options
@account_options
def login(
    headless: bool,
    captcha_timeout: float,
    quiet: bool,
    session_spec: str,
    browser_path: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Sign in once, in a browser window, and save the session for later runs.

    A person can solve a captcha or answer a new-device check here. The browser's session
    (cookies) is then saved in the OS keyring (or --session file:PATH, mode 0600), and
    `provision`, `doctor` and the other commands reuse it: no password, captcha or login GA
    code while it lasts. When it expires they log in again if the password is set.
    """
    from htx_keys.provisioning import RunOptions, prepare, sign_in

    settings = command_settings(
        base_url, api_url, env_file, account, config_file, browser=browser_path
    )
    settings = prompt_missing_secrets(settings, ("password", "totp_secret", "imap_password"))
    settings.require("email")
    session = open_session_store(session_spec, settings.base_url, settings.email or "")
    if isinstance(session, NoSession):
        raise click.UsageError("--session none: `login` exists to save a session")
    options = RunOptions(
        headed=not headless,
        cdp_endpoint=cdp_endpoint,
        ws_endpoint=ws_endpoint,
        ask=ask_person,
        captcha_timeout_s=captcha_timeout,
    )
    prep = prepare(settings, None, None, options)  # a fresh login: no saved session is used
    where = sign_in(prep, session, options, Reporter(quiet=quiet))
    click.echo(f"Signed in as {settings.email}; session saved in {where}")


@cli.command()
@session_option
@site_options
@account_options
def logout(
    session_spec: str,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Forget the saved session (it stays valid on HTX until it expires there)."""
    settings = command_settings(base_url, api_url, env_file, account, config_file)
    settings.require("email")
    session = open_session_store(session_spec, settings.base_url, settings.email or "")
    session.delete()
    click.echo(f"Forgot the saved session of {settings.email} ({session.description})")


@cli.command()
@output_options
@browser_options
def demo(
    fmt: str,
    quiet: bool,
    headed: bool,
    browser_path: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
) -> None:
    """Run a whole provisioning against the built-in HTX replica, in one command.

    Starts the sandbox website and an embedded IMAP server (pymap, TLS) on free loopback
    ports, creates a key with a made-up demo account, stores it (the OS keyring, service
    htx-keys-demo, when one works; otherwise a 0600 JSON file whose path is printed), prints
    it and stops everything it started.
    """
    from htx_keys.demo import run_demo

    run_demo(
        fmt=fmt,
        quiet=quiet,
        headed=headed,
        browser=browser_path,
        cdp_endpoint=cdp_endpoint,
        ws_endpoint=ws_endpoint,
    )


cli.add_command(verify)
cli.add_command(keys)
cli.add_command(account_group)
cli.add_command(doctor)
cli.add_command(sandbox)
cli.add_command(record)
cli.add_command(exec_command, name="exec")


def fail(message: str, status: int, hint: str | None = None) -> int:
    click.echo(f"htx-keys: error: {REDACTOR.scrub(message)}", err=True)
    if hint:
        click.echo(f"htx-keys: hint: {REDACTOR.scrub(hint)}", err=True)
    return status


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (CI cancelling a job, `kill`) takes the same careful way out as Ctrl-C: a key
    # being stored is rescued first, browsers and servers are closed.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        status = cli.main(args=argv, prog_name="htx-keys", standalone_mode=False)
        if isinstance(status, int) and status:  # click returns an Exit's code (`exec`)
            return status
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        return fail("aborted", ExitStatus.INTERRUPTED)
    except click.UsageError as exc:
        return fail(exc.format_message(), ExitStatus.USAGE)
    except click.ClickException as exc:
        return fail(exc.format_message(), ExitStatus.ERROR)
    except HtxKeysError as exc:
        # Bad input and settings get exactly one line; hints are for failures mid-run.
        quiet_hint = exc.exit_status in (ExitStatus.USAGE, ExitStatus.CONFIG)
        return fail(exc.message, exc.exit_status, None if quiet_hint else exc.hint)
    except KeyboardInterrupt:
        return fail("interrupted", ExitStatus.INTERRUPTED)
    except Exception as exc:  # a bug or an unforeseen failure: still one scrubbed line
        if os.environ.get("HTX_KEYS_DEBUG"):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return fail(
            f"unexpected {type(exc).__name__}: {detail}",
            ExitStatus.ERROR,
            "run again with HTX_KEYS_DEBUG=1 for the traceback",
        )
    return ExitStatus.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
