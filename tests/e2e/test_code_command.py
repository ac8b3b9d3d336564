"""The code command end to end: a script that reads the replica's mail (over IMAP, from the
test's Dovecot) and SMS (the sandbox's SMS outbox) gives the codes of headless runs, so an SMS
account needs no person; when it fails, the run stops with its own status and its words."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

from tests.support import code_script
from tests.support.cli import run_cli
from tests.support.site import Site, SiteFactory

pytestmark = [pytest.mark.e2e, pytest.mark.cost(90)]

SMS_ACCOUNT = {"auth_factors": ("email", "sms", "ga"), "phone": "+86 13800005678"}
COMMAND_NAME = os.path.basename(sys.executable)


def code_command() -> str:
    return shlex.join([sys.executable, str(Path(code_script.__file__))])


def script_env(site: Site, log: Path, **extra: str) -> dict[str, str]:
    """The script's own settings: where it reads mail and SMS, and where it logs its calls."""
    return {
        "CODE_IMAP_HOST": "127.0.0.1",
        "CODE_IMAP_PORT": str(site.dovecot.imaps_port),
        "CODE_IMAP_USER": site.imap_user,
        "CODE_IMAP_PASSWORD": site.imap_password,
        "CODE_IMAP_CA_FILE": str(site.dovecot.ca_file),
        "CODE_SMS_URL": f"{site.server.base_url}/-/sandbox/sms",
        "CODE_LOG": str(log),
        **extra,
    }


def provision_args(tmp_path: Path, note: str, *extra: str) -> list[str]:
    store = f"json:{tmp_path / 'keys.json'}"
    return ["provision", "--note", note, "--store", store, "--format", "json", *extra]


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def codes_sent(site: Site) -> list[str]:
    state = site.server.state
    bodies = [message.get_body(preferencelist=("plain",)) for _rcpt, message in state.outbox]
    mails = [str(body.get_content()) for body in bodies if body is not None]
    email_codes = [c for text in mails for c in re.findall(r"code is (\d{6})", text)]
    return [*email_codes, *(sms.code for sms in state.sms_outbox)]


def test_the_code_command_gives_the_email_and_sms_codes_of_a_headless_run(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    """No IMAP settings at all: the email step and the SMS step both take the command's code."""
    site = site_factory(account=SMS_ACCOUNT)
    log = tmp_path / "code-calls.jsonl"
    env = {k: v for k, v in site.env().items() if not k.startswith(("HTX_IMAP_", "HTX_MAIL_"))}
    env.update(script_env(site, log), HTX_KEYS_CODE_COMMAND=code_command())
    before = time.time()
    run = run_cli(provision_args(tmp_path, "codes by command"), env, cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert json.loads(run.stdout)["note"] == "codes by command [htx-keys]"
    assert json.loads(run.stdout)["verified"] is True
    assert f"email and SMS codes from the code command ({COMMAND_NAME})" in run.stderr
    assert "email code from the code command" in run.stderr
    assert "SMS code from the code command" in run.stderr
    told = calls(log)
    email = site.account.email
    assert [(c["HTX_CODE_KIND"], c["HTX_CODE_ACCOUNT"], c["HTX_CODE_ATTEMPT"]) for c in told] == [
        ("email", email, "1"),
        ("sms", email, "1"),
    ]
    sent = [dt.datetime.fromisoformat(str(c["HTX_CODE_SENT_AT"])).timestamp() for c in told]
    assert before - 1 <= sent[0] <= sent[1] <= time.time()
    assert all(c["secrets_seen"] == [] and c["argv"] == [] for c in told), told
    sent_codes = codes_sent(site)
    assert len(sent_codes) == 2
    assert not [code for code in sent_codes if code in run.stdout + run.stderr]
    assert [k.note for k in site.server.state.keys_for(email)] == ["codes by command [htx-keys]"]

    # The doctor is green without a mailbox, and shows the command.
    env["HTX_KEYS_STORE"] = f"json:{tmp_path / 'keys.json'}"
    run = run_cli(["doctor", "--format", "json", "--quiet", "--session", "none"], env, tmp_path)
    assert run.returncode == 0, run.explain()
    rows = {row["check"]: row for row in json.loads(run.stdout)}
    assert rows["mail settings"]["result"] == rows["mailbox"]["result"] == "skip"
    assert rows["mailbox"]["detail"] == "not used: email codes come from the code command"
    assert (rows["code command"]["result"], rows["code command"]["detail"]) == (
        "pass",
        f"{code_command()} (email and SMS codes; runs {sys.executable})",
    )


def test_the_mailbox_reads_email_codes_and_the_command_sms_codes(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    """With the IMAP settings given, --code-command is asked only for the SMS code."""
    site = site_factory(account=SMS_ACCOUNT)
    log = tmp_path / "code-calls.jsonl"
    args = provision_args(tmp_path, "sms by command", "--code-command", code_command())
    run = run_cli(args, site.env(**script_env(site, log)), cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert f"mailbox of {site.imap_user} on 127.0.0.1:" in run.stderr
    assert f"SMS codes from the code command ({COMMAND_NAME})" in run.stderr
    assert "verification email read" in run.stderr
    assert [c["HTX_CODE_KIND"] for c in calls(log)] == ["sms"]
    assert json.loads(run.stdout)["note"] == "sms by command [htx-keys]"


def test_a_failing_code_command_stops_the_run_with_its_own_status(
    site_factory: SiteFactory, tmp_path: Path
) -> None:
    site = site_factory(account=SMS_ACCOUNT)
    log = tmp_path / "code-calls.jsonl"
    env = site.env(**script_env(site, log, CODE_FAIL="sms"), HTX_KEYS_CODE_COMMAND=code_command())
    run = run_cli(provision_args(tmp_path, "gateway down"), env, cwd=tmp_path)
    assert run.returncode == 16, run.explain()
    errors = [line for line in run.stderr.splitlines() if line.startswith("htx-keys: error:")]
    assert errors == [
        f"htx-keys: error: The code command ({COMMAND_NAME}) exited with status 2: "
        "the SMS gateway answered 503 Service Unavailable"
    ]
    assert [c["HTX_CODE_KIND"] for c in calls(log)] == ["sms"]
    assert site.server.state.keys_for(site.account.email) == []
