"""What the live site may put in the way, and how the tool hands it to a person or stops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.browsers import chromium_over_cdp, playwright_server, xvfb
from tests.support.cli import run_cli, start_cli
from tests.support.site import Site, SiteFactory

pytestmark = [pytest.mark.e2e, pytest.mark.cost(90)]


def provision_args(tmp_path: Path, note: str, *extra: str) -> list[str]:
    store = f"json:{tmp_path / 'keys.json'}"
    return ["provision", "--note", note, "--store", store, "--format", "json", *extra]


def test_captcha_stops_a_headless_run_with_its_own_status(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    site = site_factory(captcha="always")
    run = run_cli(provision_args(tmp_path, "x"), site.env(), cwd=tmp_path)
    assert run.returncode == 11, run.explain()
    lines = run.stderr.splitlines()
    assert lines[-2] == (
        "htx-keys: error: HTX shows a slider captcha, which this tool leaves to a person"
    )
    assert lines[-1].startswith("htx-keys: hint: screenshot of the failed step: ")
    assert "run `htx-keys login --headed` once" in lines[-1]
    shot = Path(lines[-1].split("failed step: ", 1)[1].split(";", 1)[0])
    assert shot.exists() and shot.stat().st_size > 1000
    assert oct(shot.stat().st_mode & 0o777) == "0o600"
    assert site.server.state.keys_for(site.account.email) == []


def test_a_person_solves_the_captcha_in_the_browser_window(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    """The tool drives a headed Chromium on a virtual screen over CDP; the test plays the
    person, reaching the same page through a second CDP connection and dragging the slider."""
    from playwright.sync_api import sync_playwright

    site = site_factory(captcha="always")
    with xvfb() as display, chromium_over_cdp(display) as endpoint:
        args = provision_args(tmp_path, "solved by a person", "--cdp-endpoint", endpoint)
        proc = start_cli([*args, "--headed"], site.env(), tmp_path)
        try:
            with sync_playwright() as p:
                browser = p.chromium.connect_over_cdp(endpoint)
                slider = None
                deadline = time.monotonic() + 60
                while slider is None:
                    assert proc.poll() is None, proc.communicate()[1]
                    assert time.monotonic() < deadline, "the captcha never showed"
                    for context in browser.contexts:
                        for page in context.pages:
                            found = page.get_by_role("slider", name="Slide to verify")
                            if found.count() and found.is_visible():
                                slider = found
                    time.sleep(0.2)
                drag_to_the_end(slider)
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "solve it in the browser window" in err
    assert "captcha solved; carrying on" in err
    assert json.loads(out)["note"] == "solved by a person [htx-keys]"


def drag_to_the_end(slider) -> None:
    page = slider.page
    handle = slider.bounding_box()
    track = page.get_by_role("group", name="Slider verification").bounding_box()
    assert handle is not None and track is not None
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    end = track["x"] + track["width"] + 20
    for i in range(1, 16):  # a hand moves in many small steps, over about half a second
        page.mouse.move(x + (end - x) * i / 15, y + (i % 3))
        time.sleep(0.04)
    page.mouse.up()


def test_saved_session_is_reused_then_renewed_when_it_expires(
    htx_site: Site, secret_service: None, tmp_path: Path
) -> None:
    site = htx_site
    run = run_cli(["login", "--headless"], site.env(), cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert run.stdout.strip() == (
        f"Signed in as {site.account.email}; session saved in keyring (service htx-keys-session)"
    )

    run = run_cli(provision_args(tmp_path, "with the session"), site.env(), cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert "signed in with the saved session" in run.stderr
    assert "Log in with email and password: skipped (signed in with the saved session)" in (
        run.stderr
    )
    assert "Enter the Google Authenticator code: skipped" in run.stderr

    assert site.server.state.expire_sessions(site.account.email) >= 1
    run = run_cli(provision_args(tmp_path, "after expiry"), site.env(), cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert "the saved session has expired; logging in" in run.stderr
    assert "the saved session was renewed" in run.stderr
    assert len(site.server.state.keys_for(site.account.email)) == 2

    run = run_cli(["logout"], site.env(), cwd=tmp_path)
    assert run.returncode == 0, run.explain()


def test_new_device_check_reads_a_second_email(site_factory: SiteFactory, tmp_path: Path) -> None:
    site = site_factory(new_device_check=True)
    run = run_cli(provision_args(tmp_path, "new device"), site.env(), cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert "] Confirm the new device\n" in run.stderr
    assert run.stderr.count("verification email read") == 2


SMS_ACCOUNT = {"auth_factors": ("email", "sms", "ga"), "phone": "+86 13800005678"}


def test_an_sms_code_stops_a_run_without_a_person(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    site = site_factory(account=SMS_ACCOUNT)
    run = run_cli(provision_args(tmp_path, "sms"), site.env(), cwd=tmp_path)
    assert run.returncode == 12, run.explain()
    assert "htx-keys: error: HTX asks for an SMS code as well, which only a person can read" in (
        run.stderr
    )
    assert site.server.state.keys_for(site.account.email) == []


def test_a_person_types_the_sms_code_at_the_terminal(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    site = site_factory(account=SMS_ACCOUNT)
    with chromium_over_cdp() as endpoint:
        args = provision_args(tmp_path, "sms by hand", "--cdp-endpoint", endpoint, "--headed")
        proc = start_cli(args, site.env(), tmp_path)
        try:
            deadline = time.monotonic() + 90
            while not site.server.state.sms_outbox:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "no SMS code was ever sent"
                time.sleep(0.2)
            code = site.server.state.sms_outbox[-1].code
            assert proc.stdin is not None
            proc.stdin.write(code + "\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "SMS verification code HTX sent to your phone: " in err
    assert code not in out + err
    assert json.loads(out)["note"] == "sms by hand [htx-keys]"


def test_provision_through_a_remote_playwright_server(htx_site: Site, tmp_path: Path) -> None:
    """--ws-endpoint: the browser runs in a Playwright server (Browserless, a container)."""
    with playwright_server() as endpoint:
        args = provision_args(tmp_path, "remote", "--ws-endpoint", endpoint)
        run = run_cli(args, htx_site.env(), cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert json.loads(run.stdout)["verified"] is True
    assert "browser: remote Playwright server at ws://127.0.0.1:" in run.stderr
    assert [k.note for k in htx_site.server.state.keys_for(htx_site.account.email)] == [
        "remote [htx-keys]"
    ]
