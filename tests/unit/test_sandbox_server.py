"""The sandbox server on a real loopback port: start, serve pages and assets, stop."""

from __future__ import annotations

import socket

import httpx
import pytest

from sandbox.accounts import demo_account
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.server import SandboxServer


def test_serves_on_a_free_port_and_stops() -> None:
    account = demo_account()
    config = SandboxConfig([account], faults=Faults(latency_ms=0))
    with SandboxServer(config) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        assert srv.faults is config.faults
        with httpx.Client(base_url=srv.base_url) as client:
            r = client.get("/")
            assert (r.status_code, r.headers["location"]) == (302, "/en-us/")
            home = client.get("/en-us/")
            assert "Log In" in home.text and "Sign Up" in home.text
            assert "default-src 'self'" in home.headers["content-security-policy"]
            for asset, kind in [
                ("style.css", "text/css"),
                ("app.js", "javascript"),
                ("htx-logo.svg", "image/svg+xml"),
            ]:
                r = client.get(f"/static/{asset}")
                assert r.status_code == 200 and kind in r.headers["content-type"], asset
            login = client.get("/en-us/login/?backUrl=/en-us/apikey/")
            assert 'data-back-url="/en-us/apikey/"' in login.text
            assert "Sign Up" not in login.text  # the header's links would clash with the form
        port = srv.port
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_two_servers_side_by_side() -> None:
    config = SandboxConfig([demo_account()])
    with SandboxServer(config) as a, SandboxServer(config) as b:
        assert a.base_url != b.base_url
        assert httpx.get(f"{b.base_url}/-/health").text == "ok"
    assert a.state is not b.state
