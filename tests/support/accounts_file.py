"""Accounts-file tables and per-account secret variables for sandbox sites, as a user would
write them for the tool's named accounts (README, "Several accounts")."""

from __future__ import annotations

from tests.support.site import Site


def account_table(name: str, site: Site, **extra: str) -> str:
    """An [accounts.NAME] table that reaches `site`'s account; `extra` adds string entries."""
    lines = "".join(f'{key} = "{value}"\n' for key, value in extra.items())
    return f"""
[accounts.{name}]
email = "{site.account.email}"
base_url = "{site.server.base_url}"
api_url = "{site.server.base_url}"
imap_host = "127.0.0.1"
imap_port = {site.dovecot.imaps_port}
imap_user = "{site.imap_user}"
imap_security = "tls"
imap_ca_file = "{site.dovecot.ca_file}"
mail_from = "*@htx.com"
permissions = ["read", "trade"]
{lines}"""


def account_secrets(name: str, site: Site) -> dict[str, str]:
    """HTX_PASSWORD_<NAME>, HTX_TOTP_SECRET_<NAME> and HTX_IMAP_PASSWORD_<NAME>."""
    suffix = name.upper().replace("-", "_")
    return {
        f"HTX_PASSWORD_{suffix}": site.account.password,
        f"HTX_TOTP_SECRET_{suffix}": site.account.totp_secret,
        f"HTX_IMAP_PASSWORD_{suffix}": site.imap_password,
    }
