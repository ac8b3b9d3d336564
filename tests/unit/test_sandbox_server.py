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


def test_the_theme_follows_the_switch_cookie_else_the_browser() -> None:
    """No choice: no data-theme (the stylesheet's prefers-color-scheme decides); the switch's
    cookie puts its theme on <html>; a value it never sets is ignored."""
    config = SandboxConfig([demo_account()], faults=Faults(latency_ms=0))
    with SandboxServer(config) as srv, httpx.Client(base_url=srv.base_url) as client:
        page = client.get("/en-us/login/").text
        assert '<html lang="en">' in page
        assert 'aria-label="Switch to the dark theme"' in page
        client.cookies.set("htx_theme", "dark")
        page = client.get("/en-us/login/").text
        assert '<html lang="en" data-theme="dark">' in page
        assert 'aria-label="Switch to the light theme"' in page
        client.cookies.set("htx_theme", "<script>")
        assert '<html lang="en">' in client.get("/en-us/").text
        css = client.get("/static/style.css").text
        assert ':root[data-theme="dark"]' in css and "prefers-color-scheme: dark" in css
