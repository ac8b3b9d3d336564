"""The live site's 30 s Google Authenticator step, end to end.

Most end-to-end tests run the sandbox, and the tool against it, with a short GA step
(tests/support/ga.py) so that no run waits half a minute for a fresh code. This module keeps
HTX's own 30 s: two runs of the tool share the used-steps ledger in their state directory, so
the second one does not resubmit the step the first one spent but waits for the next 30 s
window. (The `demo`, `record` and `sandbox` commands, which cannot be given a short step,
also run at 30 s: tests/e2e/test_demo_and_sandbox_cli.py, test_record.py.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.keys import assert_no_secrets, seed_key, sub_keys
from tests.support.site import SiteFactory

pytestmark = [pytest.mark.e2e, pytest.mark.cost(30)]

LIVE_STEP_S = 30
# Both runs must reach their GA code inside one window for the second to have to wait. Each is
# a few seconds (REST only, no browser), so starting the first in a window's first half leaves
# ample room even on a loaded machine.
START_WITHIN_S = 15
WAIT_MESSAGE = "for a fresh Google Authenticator code (each code works once)"


def test_a_second_run_waits_for_the_next_30_s_window_the_ledger_names(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    site = site_factory(totp_step_s=LIVE_STEP_S)
    store = tmp_path / "keys.json"
    env = site.env(HTX_KEYS_STORE=f"json:{store}", HTX_KEYS_SESSION="none")
    assert env["HTX_TOTP_PERIOD"] == str(LIVE_STEP_S)
    # A sub-user's key is made over REST with one GA code: the cheapest run that spends one.
    seed_key(site, "parent [htx-keys]", store)
    sub_uid = site.account.sub_uids[0]
    args = ["provision", "--sub-uid", str(sub_uid), "-p", "read", "--format", "json"]
    if time.time() % LIVE_STEP_S > START_WITHIN_S:
        time.sleep(LIVE_STEP_S - time.time() % LIVE_STEP_S)

    first = run_cli([*args, "--note", "first"], env, tmp_path)
    assert first.returncode == 0, first.explain()
    (ledger,) = site.state_dir.glob("totp-*.json")
    used = json.loads(ledger.read_text())["last_step"]
    second = run_cli([*args, "--note", "second"], env, tmp_path)
    assert second.returncode == 0, second.explain()

    # The second run knew the first one's step from the ledger: it waited for the next window
    # rather than submit a spent code and be refused.
    assert WAIT_MESSAGE in second.stderr, second.explain()
    assert "the Google Authenticator code was refused" not in second.stderr
    assert json.loads(ledger.read_text())["last_step"] == used + 1
    notes = sorted(k.note for k in sub_keys(site, sub_uid).values())
    assert notes == ["first [htx-keys]", "second [htx-keys]"]
    assert_no_secrets(site, [first, second])
