"""`htx-keys provision`: one key (or N with --count), made in the website or over REST for a
sub-user, stored, verified and printed."""

from __future__ import annotations

import click

from automation.errors import InputError
from flows.htx.limits import MAX_KEYS, MAX_NOTE
from htx_keys.app.web_options import WebOptions
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
@ttl_option
@key_output_options
@web_options()
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
    """
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
