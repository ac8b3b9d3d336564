"""sandbox.relabel: the website's texts renamed on the fly (Faults.labels), the REST API never."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pyotp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from sandbox.accounts import Account
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.relabel import Relabel, relabel_text

PAGE = '<label for="ips">Link IP Address (optional)</label><textarea id="ips"></textarea>'
SCRIPT = 'const label = "Link IP Address (optional)";\n'
RENAME = {"Link IP Address (optional)": "IP whitelist"}


async def page(_r: Request) -> Response:
    return HTMLResponse(PAGE)


async def script(_r: Request) -> Response:
    return Response(SCRIPT, media_type="application/javascript")


async def text_script(_r: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript")


async def data(_r: Request) -> Response:
    return JSONResponse({"label": "Link IP Address (optional)"})


async def plain(_r: Request) -> Response:
    return PlainTextResponse("Link IP Address (optional)")


async def latin1(_r: Request) -> Response:
    body = "Adresse IP liée – Link IP Address (optional) é".encode("latin-1", "replace")
    return Response(body, headers={"content-type": "text/html; charset=iso-8859-1"})


async def streamed(_r: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        # The label is split across chunks: only a buffered body can be relabelled.
        for part in ("<p>Link IP Addr", "ess (opt", "ional)</p>"):
            yield part.encode()

    return StreamingResponse(chunks(), media_type="text/html")


def tiny_app(static_dir: Path) -> Starlette:
    return Starlette(
        routes=[
            Route("/page", page),
            Route("/script.js", script),
            Route("/text-script.js", text_script),
            Route("/data", data),
            Route("/plain", plain),
            Route("/latin1", latin1),
            Route("/streamed", streamed),
            Route("/v2/page", page),  # the REST API's prefix: never relabelled
            Mount("/static", app=StaticFiles(directory=str(static_dir))),
        ]
    )


@pytest.fixture
def faults() -> Faults:
    return Faults(latency_ms=0)


@pytest.fixture
def client(tmp_path: Path, faults: Faults) -> Iterator[TestClient]:
    (tmp_path / "app.js").write_text(SCRIPT, encoding="utf-8")
    with TestClient(Relabel(tiny_app(tmp_path), faults)) as test_client:
        yield test_client


def test_no_labels_leaves_every_response_alone(client: TestClient) -> None:
    r = client.get("/page")
    assert r.text == PAGE
    assert r.headers["content-length"] == str(len(PAGE))


def test_html_is_relabelled_and_content_length_fixed(client: TestClient, faults: Faults) -> None:
    faults.labels = dict(RENAME)
    r = client.get("/page")
    expected = PAGE.replace("Link IP Address (optional)", "IP whitelist")
    assert r.text == expected
    assert r.headers["content-length"] == str(len(expected.encode()))
    assert r.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("path", ["/script.js", "/text-script.js", "/static/app.js"])
def test_scripts_are_relabelled(client: TestClient, faults: Faults, path: str) -> None:
    faults.labels = dict(RENAME)
    r = client.get(path)
    assert r.status_code == 200
    assert r.text == 'const label = "IP whitelist";\n'
    assert r.headers["content-length"] == str(len(r.content))


def test_a_longer_replacement_gets_a_longer_content_length(
    client: TestClient, faults: Faults
) -> None:
    faults.labels = {"IP": "Internet Protocol address"}
    r = client.get("/page")
    assert "Link Internet Protocol address Address (optional)" in r.text
    assert int(r.headers["content-length"]) == len(r.content) > len(PAGE)


@pytest.mark.parametrize("path", ["/data", "/plain", "/v2/page"])
def test_json_plain_text_and_the_rest_api_are_never_relabelled(
    client: TestClient, faults: Faults, path: str
) -> None:
    faults.labels = dict(RENAME)
    r = client.get(path)
    assert "Link IP Address (optional)" in r.text
    assert "IP whitelist" not in r.text


def test_labels_are_read_per_request(client: TestClient, faults: Faults) -> None:
    assert "Link IP Address (optional)" in client.get("/page").text
    faults.labels = dict(RENAME)
    assert "IP whitelist" in client.get("/page").text
    faults.labels = {}
    assert "Link IP Address (optional)" in client.get("/page").text


def test_a_body_sent_in_chunks_is_relabelled_whole(client: TestClient, faults: Faults) -> None:
    faults.labels = dict(RENAME)
    r = client.get("/streamed")
    assert r.text == "<p>IP whitelist</p>"
    assert r.headers["content-length"] == str(len(r.content))


def test_the_declared_charset_is_kept(client: TestClient, faults: Faults) -> None:
    faults.labels = {"Link IP Address (optional)": "Adresse IP liée"}
    r = client.get("/latin1")
    assert r.content == "Adresse IP liée – Adresse IP liée é".encode("latin-1", "replace")
    assert r.headers["content-length"] == str(len(r.content))


def test_cached_static_files_are_sent_again_relabelled(client: TestClient, faults: Faults) -> None:
    etag = client.get("/static/app.js").headers["etag"]
    assert client.get("/static/app.js", headers={"if-none-match": etag}).status_code == 304
    faults.labels = dict(RENAME)
    # A browser holding the old body must not be told it is still good.
    r = client.get("/static/app.js", headers={"if-none-match": etag})
    assert r.status_code == 200
    assert "IP whitelist" in r.text
    assert "etag" not in r.headers and "last-modified" not in r.headers


def test_head_requests_pass_through(client: TestClient, faults: Faults) -> None:
    faults.labels = dict(RENAME)
    r = client.head("/static/app.js")
    assert r.status_code == 200
    assert r.content == b""


def test_relabel_text_applies_in_order_and_ignores_empty_keys() -> None:
    assert relabel_text("a b", {"a": "b", "b": "c", "": "x"}) == "c c"


# -- the sandbox app wrapped by it --------------------------------------------------------------


@pytest.fixture
def sandbox_client() -> Iterator[tuple[TestClient, Faults]]:
    account = Account(
        email="alice@example.test",
        password="correct horse",
        totp_secret=pyotp.random_base32(),
        uid=10000001,
        mailbox="alice@example.test",
    )
    config = SandboxConfig([account], faults=Faults(latency_ms=0))
    with TestClient(Relabel(create_app(config), config.faults)) as test_client:
        yield test_client, config.faults


def test_sandbox_login_page_and_scripts_relabelled(
    sandbox_client: tuple[TestClient, Faults],
) -> None:
    client, faults = sandbox_client
    assert "Email/Phone Number" in client.get("/en-us/login/").text
    faults.labels = {"Email/Phone Number": "Account name", "Google Authenticator code": "2FA"}
    page = client.get("/en-us/login/")
    assert page.status_code == 200
    assert "Email/Phone Number" not in page.text and "Account name" in page.text
    assert page.headers["content-length"] == str(len(page.content))
    assert "content-security-policy" in page.headers  # the page's own headers are kept
    script = client.get("/static/login.js")
    assert script.status_code == 200
    assert "Google Authenticator code" not in script.text


def test_sandbox_rest_and_web_calls_untouched(sandbox_client: tuple[TestClient, Faults]) -> None:
    client, faults = sandbox_client
    faults.labels = {"btcusdt": "renamed", "Please log in first": "renamed"}
    symbols = client.get("/v1/common/symbols")
    assert symbols.status_code == 200
    assert "btcusdt" in symbols.text
    web = client.get("/-/x/web/apikey/list")
    assert web.json()["message"] == "Please log in first"
