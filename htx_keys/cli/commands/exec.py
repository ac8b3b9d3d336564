"""`htx-keys exec [options] -- CMD ARGS`: a key that lives as long as one command
(htx_keys/app/exec.py)."""

from __future__ import annotations

import click

from automation.errors import ExitWith, InputError
from htx_keys.app.web_options import WebOptions
from htx_keys.cli.console import print_error
from htx_keys.cli.options import (
    check_parent_key,
    format_option,
    ip_option,
    parent_key_option,
    permission_option,
    quiet_option,
    sub_uid_option,
    web_options,
    web_run,
)
from htx_keys.cli.params import ttl_option


@click.command()
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--note", help="The key's note [default: exec HOST TIME].")
@permission_option()
@ip_option()
@click.option("--no-verify", is_flag=True, help="Do not check the key before running CMD.")
@click.option(
    "--allow-withdraw", is_flag=True, help="Allow the withdraw permission (off by default)."
)
@format_option(
    ("text", "github"),
    "github: print ::add-mask:: for the pair the moment it is read, so the job's log "
    "never shows it, whatever CMD prints.",
)
@sub_uid_option("Make the key for this sub-user over REST (no browser), signed by the parent.")
@parent_key_option
@ttl_option
@quiet_option
@web_options()
def exec_command(
    command: tuple[str, ...],
    note: str | None,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    no_verify: bool,
    allow_withdraw: bool,
    sub_uid: int | None,
    parent_key: str | None,
    ttl: float | None,
    fmt: str,
    quiet: bool,
    web: WebOptions,
) -> None:
    """Run CMD with a fresh key in HTX_ACCESS_KEY / HTX_SECRET_KEY, then revoke the key.

    Write the command after `--`: htx-keys exec -p trade -- python bot.py. The key is
    revoked when CMD ends, also when it fails or is stopped (Ctrl-C, SIGTERM, a hang-up:
    SIGTERM and SIGHUP are passed on to CMD); the exit status is CMD's (128+N when a signal
    N ended it). CMD does not see the account's secrets nor HTX_KEYS_SESSION. With --format
    github the pair is masked in the job's log before CMD starts. With --ttl the key has a
    lease too: should this run be killed before it revokes the key, `keys reap` deletes it
    once the lease has run out.
    """
    from flows.htx.lease import lease_end
    from flows.htx.limits import check_request
    from htx_keys.app.exec import default_note, find_program, run_with_key
    from htx_keys.app.output import KeyOutput

    check_parent_key(sub_uid, parent_key)
    if sub_uid is not None and ttl is not None:
        raise InputError("--ttl is for the account's own keys (`keys reap`); not with --sub-uid")
    find_program(command[0])  # checked now; run as typed (argv[0] unchanged)
    out = KeyOutput(fmt, write_outputs=False)
    out.check()
    run = web_run(
        web,
        quiet=quiet,
        verify=not no_verify,
        on_key=out.on_key,
    )
    request = check_request(
        note or default_note(),
        permissions or run.settings.default_permissions or ("read",),
        ips or run.settings.default_ips,
        allow_withdraw=allow_withdraw,
        tag=run.tag,
        until=lease_end(ttl) if ttl is not None else None,
    )
    status = run_with_key(
        run, request, list(command), sub_uid, parent_key, out,
        report=lambda exc: print_error(exc.message, exc.hint),
    )  # fmt: skip
    raise ExitWith(status)
