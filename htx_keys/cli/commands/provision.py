"""`htx-keys provision`: one key (or N with --count), made in the website or over REST for a
sub-user, stored, verified and printed."""

from __future__ import annotations

import click

from automation.errors import InputError
from flows.htx.limits import MAX_KEYS, MAX_NOTE
from htx_keys.app.web_options import DEFAULT_JOBS, MAX_JOBS, WebOptions
from htx_keys.cli.options import (
    check_parent_key,
    ip_option,
    key_output_options,
    parent_key_option,
    permission_option,
    web_options,
    web_run,
)
from htx_keys.cli.params import ttl_option


@click.command()
@click.option("--note", required=True, help=f"The key's note (1-{MAX_NOTE} characters).")
@permission_option()
@click.option(
    "--allow-withdraw", is_flag=True, help="Allow the withdraw permission (off by default)."
)
@ip_option()
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
    "--accounts",
    "accounts",
    multiple=True,
    metavar="A,B,C",
    help="Make a key for each of these accounts of the accounts file, at once, in one "
    "browser (a context each); repeatable or comma separated. Each account's result "
    "and failure is reported on its own; exit 17 when any failed.",
)
@click.option(
    "--all-accounts",
    is_flag=True,
    help="As --accounts, for every account in the accounts file.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, MAX_JOBS),
    metavar="N",
    help=f"With --accounts/--all-accounts: how many accounts run at once [default: "
    f"{DEFAULT_JOBS}]. One account's waits (the mail, the next GA window) overlap the others' "
    "work; each running account costs a browser context and a Playwright driver.",
)
@ttl_option
@key_output_options
@web_options(several_endpoints=True)
def provision(
    note: str,
    permissions: tuple[str, ...],
    allow_withdraw: bool,
    ips: tuple[str, ...],
    sub_uid: int | None,
    parent_key: str | None,
    no_verify: bool,
    count: int | None,
    allow_duplicate: bool,
    ttl: float | None,
    fmt: str,
    quiet: bool,
    show_secret: bool,
    export_env: bool,
    accounts: tuple[str, ...],
    all_accounts: bool,
    jobs: int | None,
    web: WebOptions,
) -> None:
    """Log in, create one API key, store it, verify it and print what was made.

    The Access Key / Secret Key pair goes to the OS keyring (service htx-keys) unless --store
    says otherwise; stdout shows the access key and its facts, never the secret (unless
    --format env --show-secret). The new key is then checked with signed REST calls
    (`verified` in the output). The note gets the tool's tag ("ci-bot [htx-keys]", see
    HTX_KEYS_NOTE_TAG) so `keys reconcile` can tell the tool's keys from others; with --ttl
    the tag carries the end of the key's lease ("ci-bot [htx-keys until 20261130T030000Z]"),
    for `keys reap`.

    With --accounts a,b,c (or --all-accounts) it makes one key for each named account of the
    accounts file, --jobs of them at once in one browser, and prints a line per account (or a
    JSON list with an object per account: the fields above plus account, error and
    exit_status). One account failing does not stop the others; the exit status is then 17.
    Several --ws-endpoint or --cdp-endpoint values spread the accounts over those browsers.
    """
    if accounts or all_accounts:
        from htx_keys.cli.commands.provision_batch import provision_batch

        provision_batch(
            accounts,
            all_accounts,
            jobs,
            note=note,
            permissions=permissions,
            ips=ips,
            allow_withdraw=allow_withdraw,
            ttl=ttl,
            verify=not no_verify,
            fmt=fmt,
            quiet=quiet,
            refused=_refused_with_accounts(sub_uid, parent_key, count, allow_duplicate, export_env),
            web=web,
        )
        return
    if jobs is not None:
        raise InputError("--jobs goes with --accounts or --all-accounts")
    from flows.htx.lease import lease_end
    from flows.htx.limits import check_request
    from htx_keys.app.output import KeyOutput

    out = KeyOutput(fmt, show_secret, export_env)
    settings = web.settings()
    request = check_request(
        note,
        permissions or settings.default_permissions or ("read",),
        ips or settings.default_ips,
        allow_withdraw=allow_withdraw,
        tag=settings.note_tag,
        until=lease_end(ttl) if ttl is not None else None,
    )
    out.check()
    check_parent_key(sub_uid, parent_key)
    if allow_duplicate and count is None:
        raise InputError("--allow-duplicate goes with --count")
    if sub_uid is not None and count is not None:
        raise InputError("--count makes the account's own keys; not with --sub-uid")
    if sub_uid is not None and ttl is not None:
        raise InputError("--ttl is for the account's own keys (`keys reap`); not with --sub-uid")
    run = web_run(
        web,
        quiet=quiet,
        verify=not no_verify,
        on_key=out.on_key,
        require=("email",) if count is not None else (),
    )
    if sub_uid is not None:
        from htx_keys.app.subuser import provision_for_sub_user

        out.report([provision_for_sub_user(run, request, sub_uid, parent_key)])
    elif count is not None:
        from htx_keys.app.count import provision_count

        out.report(
            provision_count(run, request, count, allow_duplicate=allow_duplicate), several=True
        )
    else:
        from htx_keys.app.provisioning import provision_one

        out.report([provision_one(run, request)])


def _refused_with_accounts(
    sub_uid: int | None,
    parent_key: str | None,
    count: int | None,
    allow_duplicate: bool,
    export_env: bool,
) -> str | None:
    """The first flag given that makes no sense for several accounts, or None."""
    given = {
        "--sub-uid": sub_uid is not None,
        "--parent-key": bool(parent_key),
        "--count": count is not None,
        "--allow-duplicate": allow_duplicate,
        "--export-env": export_env,
    }
    return next((flag for flag, on in given.items() if on), None)
