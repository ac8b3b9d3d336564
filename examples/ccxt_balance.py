"""Use an HTX key with ccxt, as a CI job's test step would: HTX_ACCESS_KEY and HTX_SECRET_KEY
come from the environment (`htx-keys provision --format github --export-env`, or
`htx-keys exec`), HTX_API_URL says where the API is (default: the live one).

Prints how many currencies the spot balance lists and the account id; never the key.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

import ccxt


def client() -> ccxt.htx:
    api = urlsplit(os.environ.get("HTX_API_URL", "https://api.huobi.pro"))
    host = api.netloc
    # ccxt signs with the host in urls['hostnames'] (host:port for a local sandbox).
    return ccxt.htx(
        {
            "apiKey": os.environ["HTX_ACCESS_KEY"],
            "secret": os.environ["HTX_SECRET_KEY"],
            "hostname": host,
            "urls": {
                "hostnames": {"spot": host, "contract": host},
                "api": {
                    name: f"{api.scheme}://{{hostname}}"
                    for name in (
                        "status",
                        "contract",
                        "spot",
                        "public",
                        "private",
                        "v2Public",
                        "v2Private",
                    )
                },
            },
            "options": {
                "fetchMarkets": {"types": {"spot": True, "linear": False, "inverse": False}}
            },
        }
    )


def main() -> int:
    exchange = client()
    balance = exchange.fetch_balance()
    accounts = exchange.spot_private_get_v1_account_accounts()["data"]
    print(f"spot account {accounts[0]['id']}: {len(balance['total'])} currencies in the balance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
