"""`htx-keys login` and `logout`: a saved browser session, so later runs need no password,
captcha or login GA code."""

from __future__ import annotations

from pathlib import Path

import click

from automation.errors import InputError
from htx_keys.cli.browser_option import remote_browser_options
from htx_keys.cli.code_option import code_command_option
from htx_keys.cli.console import echo, echo_err, echo_secret
from htx_keys.cli.options import (
    account_options,
    ask_person,
    quiet_option,
    session_option,
    site_options,
)
from htx_keys.cli.params import Seconds

EXPORT_WARNING = (
    "htx-keys: warning: the line on stdout is a signed-in session of {email} on HTX: whoever "
    "holds it is logged in as that account, with no password and no login GA code, until "
    "the session ends (HTX ends it; `htx-keys logout` does not). It sees the account and "
    "does all that needs no further code (creating or deleting a key still asks for the "
    "emailed code and a GA code). Keep it only as a CI secret, read with --session env:VAR."
)


@click.command()
@click.option("--headless", is_flag=True, help="No browser window (then a captcha stops it).")
@click.option(
    "--captcha-timeout",
    type=Seconds(min=10),
    default=180.0,
    show_default=True,
    help="Seconds a person has to solve a captcha.",
)
@quiet_option
@session_option
@click.option(
    "--export-session",
    is_flag=True,
    help="Print the new session on stdout as one line, instead of saving it, for a CI "
    "secret that later runs read with --session env:VAR. Whoever holds that line is signed "
    "in to your HTX account until the session ends: keep it as a secret.",
)
@click.option(
    "--browser",
    "browser_path",
    metavar="PATH",
    help="Chromium/Chrome to use [env HTX_KEYS_BROWSER].",
)
@remote_browser_options
@code_command_option
@site_options
@account_options
def login(
    headless: bool,
    captcha_timeout: float,
    quiet: bool,
    session_spec: str | None,
    export_session: bool,
    browser_path: str | None,
    browser_channel: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
    code_command: str | None,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    allow_insecure_transport: bool | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Sign in once, in a browser window, and save the session for later runs.

    A person can solve a captcha or answer a new-device check here. The browser's session
    (cookies) is then saved in the OS keyring (or --session file:PATH, mode 0600), and
    `provision`, `doctor` and the other commands reuse it: no password, captcha or login GA
    code while it lasts. When it expires they log in again if the password is set.

    For CI: --export-session prints the session as one line instead; save it as a CI secret
    (say HTX_SESSION) and give the jobs --session env:HTX_SESSION. Each CI run then skips the
    password, the captcha a datacenter address may draw, and the login GA code.
    """
    from automation.runner import Reporter
    from automation.session import (
        EnvSession,
        MemorySession,
        NoSession,
        SessionStore,
        open_session_store,
    )
    from automation.session import export_session as export
    from htx_keys.app.code_sources import without_unused
    from htx_keys.app.preflight import RunOptions, prepare
    from htx_keys.app.provisioning import sign_in
    from htx_keys.app.web_options import command_settings
    from htx_keys.cli.options import prompt_missing_secrets

    settings = command_settings(
        base_url, api_url, env_file, account, config_file,
        browser=browser_path, browser_channel=browser_channel,
        cdp_endpoint=cdp_endpoint, ws_endpoint=ws_endpoint,
        allow_insecure_transport=allow_insecure_transport, session=session_spec,
        code_command=code_command,
    )  # fmt: skip
    names = without_unused(settings, ("password", "totp_secret", "imap_password"))
    settings = prompt_missing_secrets(settings, names)
    settings.require("email")
    if export_session and session_spec is not None:
        raise InputError("--export-session prints the session; it goes with no --session")
    if export_session:
        session: SessionStore = MemorySession()
    else:
        session = open_session_store(settings.session, settings.base_url, settings.email or "")
    if isinstance(session, NoSession):
        raise InputError("--session none: `login` exists to save a session")
    if isinstance(session, EnvSession):
        raise InputError(
            "--session env:VAR is read-only: use `htx-keys login --export-session` and save "
            "what it prints in that variable"
        )
    options = RunOptions(
        headed=not headless,
        ask=ask_person,
        captcha_timeout_s=captcha_timeout,
    )
    prep = prepare(settings, None, None, options)  # a fresh login: no saved session is used
    where = sign_in(prep, session, options, Reporter(quiet=quiet))
    if isinstance(session, MemorySession) and session.state is not None:
        echo_err(EXPORT_WARNING.format(email=settings.email))
        echo_secret(export(session.state))  # asked for by name: the one output that holds it
        return
    echo(f"Signed in as {settings.email}; session saved in {where}")


@click.command()
@session_option
@site_options
@account_options
def logout(
    session_spec: str | None,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    allow_insecure_transport: bool | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Forget the saved session (it stays valid on HTX until it expires there)."""
    from automation.session import open_session_store
    from htx_keys.app.web_options import command_settings

    settings = command_settings(
        base_url, api_url, env_file, account, config_file,
        session=session_spec, allow_insecure_transport=allow_insecure_transport,
    )  # fmt: skip
    settings.require("email")
    session = open_session_store(settings.session, settings.base_url, settings.email or "")
    session.delete()
    echo(f"Forgot the saved session of {settings.email} ({session.description})")
