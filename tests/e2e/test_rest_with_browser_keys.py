"""Keys made by the browser flow, used with ccxt; sub-user keys over REST without a browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from automation.store import open_store
from flows.htx.rest import API_NAMES, make_client
from tests.support.cli import run_cli
from tests.support.leaks import leaks
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(25)]


def provision_json(site: Site, tmp_path: Path, *args: str) -> dict[str, Any]:
    run = run_cli(
        ["provision", "--store", f"json:{tmp_path / 'keys.json'}", "--format", "json", *args],
        site.env(),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.explain()
    return dict(json.loads(run.stdout))


def test_ccxt_with_a_browser_made_key_and_sub_user_keys_over_rest(
    htx_site: Site, tmp_path: Path
) -> None:
    import ccxt

    site = htx_site
    out = provision_json(site, tmp_path, "--note", "parent bot", "-p", "trade")
    assert out["verified"] is True
    assert out["read_back"]["permissions"] == ["read", "trade"]
    assert out["read_back"]["valid_days"] == 90
    pair = open_store(f"json:{tmp_path / 'keys.json'}").load(out["access_key"])
    api = site.server.base_url

    # ccxt itself, the client HTX's users have, with the pair the browser flow captured.
    client = make_client(api, pair.access_key, pair.secret_key)
    balance = client.fetch_balance()
    assert balance["USDT"]["free"] == 1000
    assert client.spot_private_get_v2_user_uid()["data"] == site.account.uid
    listed = client.spot_private_get_v2_user_api_key({"uid": site.account.uid})["data"]
    assert [k["accessKey"] for k in listed] == [pair.access_key]

    last = pair.secret_key[-1]
    tampered = make_client(
        api, pair.access_key, pair.secret_key[:-1] + ("1" if last == "0" else "0")
    )
    with pytest.raises(ccxt.AuthenticationError, match="Verification failure"):
        tampered.spot_private_get_v1_account_accounts()

    port = api.rsplit(":", 1)[1]
    wrong_host = make_client(api, pair.access_key, pair.secret_key)
    wrong_host.urls["hostnames"]["spot"] = f"localhost:{port}"  # signed for localhost...
    wrong_host.urls["api"] = {name: api for name in API_NAMES}  # ...sent to 127.0.0.1
    with pytest.raises(ccxt.AuthenticationError, match="Verification failure"):
        wrong_host.spot_private_get_v1_account_accounts()

    late = make_client(api, pair.access_key, pair.secret_key)
    late.nonce = lambda: late.milliseconds() - 10 * 60 * 1000
    with pytest.raises(ccxt.AuthenticationError, match="Invalid submission time"):
        late.spot_private_get_v1_account_accounts()

    # A sub-user key over REST: no browser, signed by the parent key, a fresh GA code.
    sub_uid = site.account.sub_uids[0]
    run = run_cli(
        [
            "provision",
            "--sub-uid",
            str(sub_uid),
            "--note",
            "sub bot",
            "-p",
            "trade",
            "--ip",
            "127.0.0.1",
            "--store",
            f"json:{tmp_path / 'keys.json'}",
            "--format",
            "json",
        ],
        site.env(),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.explain()
    print(f"sub-user provisioning wall time: {run.seconds:.1f} s")
    assert "Open the HTX website" not in run.stderr  # no browser flow ran
    sub = json.loads(run.stdout)
    assert sub["sub_uid"] == sub_uid
    assert sub["verified"] is True
    assert sub["read_back"]["ip_addresses"] == ["127.0.0.1"]
    (made,) = site.server.state.sub_keys.get(sub_uid, [])
    assert made.access_key == sub["access_key"]

    # verify: every stored key checks out (the sub-user's read back through the parent).
    run = run_cli(
        ["verify", "--store", f"json:{tmp_path / 'keys.json'}", "--format", "json"],
        site.env(),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.explain()
    rows = json.loads(run.stdout)
    assert {r["access_key"]: r["verified"] for r in rows} == {
        pair.access_key: True,
        sub["access_key"]: True,
    }

    run = run_cli(
        [
            "keys",
            "revoke",
            "--sub-uid",
            str(sub_uid),
            sub["access_key"],
            "--store",
            f"json:{tmp_path / 'keys.json'}",
        ],
        site.env(),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.explain()
    assert site.server.state.sub_keys.get(sub_uid, []) == []
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert [r["access_key"] for r in stored] == [pair.access_key]

    secrets = {**site.secrets, "parent secret": pair.secret_key, "sub secret": made.secret_key}
    assert leaks(secrets, {"stdout": run.stdout, "stderr": run.stderr}, []) == []


def test_a_key_bound_elsewhere_is_reported_unverifiable_not_failed(
    htx_site: Site, tmp_path: Path
) -> None:
    import ccxt

    out = provision_json(htx_site, tmp_path, "--note", "bound elsewhere", "--ip", "10.9.9.9")
    assert out["verified"] is None
    assert out["read_back"] is None
    assert out["verification_note"] == (
        "the key is bound to 10.9.9.9 and this machine calls from 127.0.0.1, "
        "so it cannot be checked from here"
    )
    pair = open_store(f"json:{tmp_path / 'keys.json'}").load(out["access_key"])
    client = make_client(htx_site.server.base_url, pair.access_key, pair.secret_key)
    refused = r"Incorrect IP address \[IP地址错误\]:127\.0\.0\.1"
    with pytest.raises(ccxt.AuthenticationError, match=refused):
        client.spot_private_get_v1_account_accounts()
