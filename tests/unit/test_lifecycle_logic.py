"""Key lifecycle without a browser: the note tag, reading both spellings of the key list,
joining it with the store, --count planning, CI outputs and durations."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import ClassVar

import click
import pytest

from automation.config import load_settings
from automation.errors import ConfigError, HtxKeysError, InputError, RejectedError, VerifyError
from automation.runner import Reporter
from automation.store import EnvFileStore, JsonStore, KeyRecord
from flows.htx.key_list import ExchangeKey, from_api, from_row
from flows.htx.limits import check_request, has_tag, note_matches, tag_note
from flows.htx.pages import KeyRow
from flows.htx.verify import Verification
from htx_keys.app import subuser_lifecycle
from htx_keys.app.exec import child_environment, find_program
from htx_keys.app.lifecycle import (
    Listing,
    check_room,
    expiring,
    find_keys,
    joined,
    plan_count,
)
from htx_keys.app.output import KeyOutput, Made
from htx_keys.app.rotation import check_before_deleting, stopped_rotation
from htx_keys.cli.commands.keys import parse_days

TAG = "htx-keys"


def key(access: str, note: str, days: int | None = None, status: str = "normal") -> ExchangeKey:
    return ExchangeKey(access, note, ("read",), (), days, status, "2026-11-21T10:00:00Z")


def record(access: str, note: str = "bot [htx-keys]", secret: str = "s" * 32) -> KeyRecord:
    return KeyRecord(
        access_key=access,
        secret_key=secret,
        account="me@example.test",
        note=note,
        permissions=["read"],
        ip_addresses=[],
        created_at="2026-11-21T10:00:00Z",
        expires_at="2027-02-19T10:00:00Z",
        site="https://www.htx.com",
    )


def test_the_tag_is_added_once_and_matched_both_ways() -> None:
    assert tag_note("bot", TAG) == "bot [htx-keys]"
    assert tag_note("bot [htx-keys]", TAG) == "bot [htx-keys]"
    assert tag_note("bot", "") == "bot"
    assert has_tag("bot [htx-keys]", TAG) and not has_tag("bot", TAG) and not has_tag("x", "")
    assert note_matches("bot [htx-keys]", "bot", TAG)
    assert note_matches("bot", "bot", TAG) and not note_matches("bots [htx-keys]", "bot", TAG)
    assert check_request("bot", [], [], tag=TAG).note == "bot [htx-keys]"


def test_a_note_that_only_the_tag_makes_too_long_says_so() -> None:
    assert len(check_request("x" * 244, [], [], tag=TAG).note) == 255
    with pytest.raises(InputError, match=r"245 characters long, 256 with the tool's tag"):
        check_request("x" * 245, [], [], tag=TAG)


@pytest.mark.parametrize(
    ("raw", "tag"), [("ci", "ci"), ("none", ""), ("NONE", ""), (" team-1.bots ", "team-1.bots")]
)
def test_note_tag_setting(raw: str, tag: str, tmp_path: Path) -> None:
    (tmp_path / "empty.env").write_text("")
    settings = load_settings(None, tmp_path / "empty.env", {"HTX_KEYS_NOTE_TAG": raw})
    assert settings.note_tag == tag


def test_bad_note_tag_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="HTX_KEYS_NOTE_TAG must be 1-32 letters"):
        load_settings(None, None, {"HTX_KEYS_NOTE_TAG": "a b]"})


def test_table_row_and_api_entry_read_alike() -> None:
    row = KeyRow(
        "2026-11-21 10:00:00",
        "bot [htx-keys]",
        "Read-only, Trade",
        "ak-1",
        "127.0.0.1, 10.0.0.0/8",
        "Permanent",
        "Normal",
    )
    entry = {
        "accessKey": "ak-1",
        "note": "bot [htx-keys]",
        "permission": "readOnly,trade",
        "ipAddresses": "127.0.0.1,10.0.0.0/8",
        "validDays": -1,
        "status": "normal",
        "createTime": int(dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC).timestamp() * 1000),
    }
    assert from_row(row) == from_api(entry)
    assert from_row(row).permissions == ("read", "trade") and from_row(row).valid_days is None
    loose = from_row(KeyRow("x", "n", "Read-only", "ak-2", "--", "37", "Expired"))
    assert (loose.ip_addresses, loose.valid_days, loose.status) == ((), 37, "expired")
    assert loose.created_at == "x"  # kept as shown when it is not the usual form


def test_expiry_window() -> None:
    keys = [key("a", "n", 14), key("b", "n", 15), key("c", "n", None), key("d", "n", 0, "expired")]
    rows = joined(Listing(keys, "test"), [record("gone")], TAG)
    assert [r["access_key"] for r in expiring(rows, 14)] == ["a", "d"]  # never "gone": not on HTX


def test_join_marks_held_secrets_and_keys_gone_from_htx() -> None:
    listing = Listing([key("a", "bot [htx-keys]", 10), key("b", "by hand")], "test")
    now = dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
    rows = joined(listing, [record("a"), record("gone")], TAG, now)
    by_key = {r["access_key"]: r for r in rows}
    assert (by_key["a"]["secret_held"], by_key["a"]["tagged"]) == (True, True)
    assert (by_key["b"]["secret_held"], by_key["b"]["tagged"]) == (False, False)
    gone = by_key["gone"]
    assert (gone["on_exchange"], gone["status"], gone["valid_days"]) == (False, "not on HTX", 90)


def test_count_plan_creates_only_what_is_missing() -> None:
    request = check_request("bot", [], [], tag=TAG)
    keys = [key("a", "bot [htx-keys]"), key("b", "bot [htx-keys]"), key("c", "bot")]
    plan = plan_count(keys, [record("a")], request, 3, tag=TAG, allow_duplicate=False)
    assert [r.access_key for r in plan.existing] == ["a"]
    assert [k.access_key for k in plan.unheld] == ["b"]  # "c" is not the tool's "bot"
    assert plan.missing == 2
    assert plan_count(keys, [record("a")], request, 1, tag=TAG, allow_duplicate=False).missing == 0
    assert plan_count(keys, [record("a")], request, 2, tag=TAG, allow_duplicate=True).missing == 2
    many = [key(str(n), "x") for n in range(19)]
    with pytest.raises(InputError, match="HTX allows 20 per account"):
        plan_count(many, [], request, 2, tag=TAG, allow_duplicate=False)


def test_count_needs_a_store_with_room(tmp_path: Path) -> None:
    check_room(JsonStore(tmp_path / "k.json"), 20)
    with pytest.raises(InputError, match="at most 20 keys"):
        check_room(JsonStore(tmp_path / "k.json"), 21)
    with pytest.raises(InputError, match="holds one key"):
        check_room(EnvFileStore(tmp_path / "k.env"), 2)


def test_find_by_access_key_or_note() -> None:
    keys = [key("a", "bot [htx-keys]"), key("b", "bot [htx-keys]"), key("c", "other")]
    assert [k.access_key for k in find_keys(keys, "c", None, TAG)] == ["c"]
    assert [k.access_key for k in find_keys(keys, None, "bot", TAG)] == ["a", "b"]
    assert find_keys(keys, None, "nothing", TAG) == []


@pytest.mark.parametrize(("text", "days"), [("14d", 14), ("14", 14), ("36h", 1.5), ("2w", 14)])
def test_durations(text: str, days: float) -> None:
    assert parse_days(text) == days


def test_bad_duration() -> None:
    with pytest.raises(click.BadParameter):
        parse_days("soon")


# --- CI outputs -------------------------------------------------------------------------------


def github(tmp_path: Path, export_env: bool = True) -> tuple[KeyOutput, io.StringIO]:
    out = io.StringIO()
    environ = {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_ENV": str(tmp_path / "env")}
    return KeyOutput("github", export_env=export_env, stream=out, environ=environ), out


def test_github_masks_the_pair_when_read_then_writes_outputs(tmp_path: Path) -> None:
    output, out = github(tmp_path)
    output.check()
    made = record("AK1", secret="SECRET-1")
    output.on_key(made)  # the moment the pair is read
    assert out.getvalue() == "::add-mask::AK1\n::add-mask::SECRET-1\n"
    output.report([Made(made, "json:/k.json")])
    lines = out.getvalue().splitlines()
    assert lines[2] == "Created API key AK1" and lines.count("::add-mask::AK1") == 1
    assert all("SECRET-1" not in line for line in lines[2:])
    assert (tmp_path / "out").read_text().splitlines() == [
        "access_key=AK1",
        "secret_key=SECRET-1",
        "note=bot [htx-keys]",
        "expires_at=2027-02-19T10:00:00Z",
    ]
    assert (tmp_path / "env").read_text() == "HTX_ACCESS_KEY=AK1\nHTX_SECRET_KEY=SECRET-1\n"


def test_github_outputs_of_several_keys_are_numbered(tmp_path: Path) -> None:
    output, out = github(tmp_path, export_env=False)
    output.report([Made(record("A"), "x", created=False), Made(record("B"), "x")], several=True)
    written = (tmp_path / "out").read_text().splitlines()
    assert written[0] == "count=2" and "access_key_2=B" in written
    assert not (tmp_path / "env").exists()
    assert out.getvalue().splitlines()[:4] == [
        "::add-mask::A",
        f"::add-mask::{'s' * 32}",
        "::add-mask::B",
        "Existing API key A",
    ]


def test_ci_output_settings_are_checked_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="add --show-secret"):
        KeyOutput("env").check()
    with pytest.raises(InputError, match="--export-env goes with --format github"):
        KeyOutput("json", export_env=True).check()
    with pytest.raises(ConfigError, match=r"\$GITHUB_OUTPUT, which is not set"):
        KeyOutput("github", environ={}).check()
    with pytest.raises(ConfigError, match=r"\$GITHUB_ENV"):
        KeyOutput("github", export_env=True, environ={"GITHUB_OUTPUT": "x"}).check()


def test_env_format_prints_quoted_exports_only_when_asked() -> None:
    out = io.StringIO()
    output = KeyOutput("env", show_secret=True, stream=out)
    output.check()
    output.report([Made(record("AK", secret="it's"), "x")])
    assert out.getvalue() == "export HTX_ACCESS_KEY=AK\nexport HTX_SECRET_KEY='it'\"'\"'s'\n"


def test_text_and_json_never_show_the_secret_and_a_failed_check_fails() -> None:
    out = io.StringIO()
    failed = Verification("failed", "HTX refused the key")
    with pytest.raises(VerifyError, match="does not check out"):
        KeyOutput("json", stream=out).report([Made(record("AK", secret="S" * 32), "x", failed)])
    assert "S" * 32 not in out.getvalue() and '"verified": false' in out.getvalue()


def test_an_expired_key_does_not_count() -> None:
    request = check_request("bot", [], [], tag=TAG)
    expired = key("a", "bot [htx-keys]", 0, "expired")
    plan = plan_count([expired], [record("a")], request, 1, tag=TAG, allow_duplicate=False)
    assert (plan.existing, plan.missing) == ([], 1)


def test_exec_gives_the_command_the_key_not_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HTX_PASSWORD": "pw",
        "HTX_PASSWORD_MAIN": "pw2",
        "HTX_TOTP_SECRET": "seed",
        "HTX_IMAP_PASSWORD": "imap",
        "HTX_KEYS_SESSION": "file:/home/me/session.json",  # as good as a password
        "HTX_KEYS_SESSION_MAIN": "file:/home/me/main.json",
        "HTX_EMAIL": "me@example.test",
        "HTX_KEYS_STORE": "json:keys.json",
        "PATH_LIKE": "kept",
    }.items():
        monkeypatch.setenv(name, value)
    env = child_environment(record("AK", secret="SK"))
    assert (env["HTX_ACCESS_KEY"], env["HTX_SECRET_KEY"]) == ("AK", "SK")
    assert env["HTX_EMAIL"] == "me@example.test" and env["PATH_LIKE"] == "kept"
    assert env["HTX_KEYS_STORE"] == "json:keys.json"
    for gone in (
        "HTX_PASSWORD",
        "HTX_PASSWORD_MAIN",
        "HTX_TOTP_SECRET",
        "HTX_IMAP_PASSWORD",
        "HTX_KEYS_SESSION",
        "HTX_KEYS_SESSION_MAIN",
    ):
        assert gone not in env


def test_exec_checks_the_command_before_anything_is_made(tmp_path: Path) -> None:
    assert find_program("sh").endswith("/sh")
    with pytest.raises(InputError, match="command not found"):
        find_program("no-such-program-here")
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(InputError, match="not an executable file"):
        find_program(str(script))
    script.chmod(0o755)
    assert find_program(str(script)) == str(script)


def test_rotate_keeps_the_old_key_unless_the_new_one_is_confirmed() -> None:
    new, old = record("NEW"), key("OLD", "bot [htx-keys]")
    check_before_deleting(Verification("ok"), new, old, True)
    check_before_deleting(Verification("skipped", "the key is bound to 10.0.0.1"), new, old, True)
    for verdict in (
        Verification("failed", "HTX refused the key"),
        Verification("skipped", "the HTX API could not be reached", api_unreachable=True),
    ):
        with pytest.raises(VerifyError, match="the old key OLD was kept") as err:
            check_before_deleting(verdict, new, old, False)
        assert err.value.hint is not None and err.value.hint.startswith("the new key is stored")


def test_github_masks_for_exec_need_no_output_file() -> None:
    out = io.StringIO()
    output = KeyOutput("github", write_outputs=False, stream=out, environ={})
    output.check()
    output.on_key(record("AK", secret="SK"))
    assert out.getvalue() == "::add-mask::AK\n::add-mask::SK\n"


def test_sub_user_hints_name_the_sub_user() -> None:
    with pytest.raises(VerifyError) as err:
        check_before_deleting(
            Verification("failed", "no"), record("NEW"), key("OLD", "n"), True, sub_uid=7
        )
    assert "`htx-keys keys revoke NEW --sub-uid 7`" in (err.value.hint or "")
    stopped = stopped_rotation(KeyboardInterrupt(), "the new key NEW is stored", 7)
    assert stopped.message == "Interrupted: the new key NEW is stored"
    assert stopped.hint == (
        "`htx-keys keys list --sub-uid 7` shows both; "
        "`htx-keys keys revoke ACCESS_KEY --sub-uid 7` deletes one"
    )


class FakeRest:
    """HtxRest for a sub-user whose keys are `listed`; deleting fails as asked."""

    listed: ClassVar[list[str]] = []
    fail: bool = False

    def __init__(self, *_args: object, **_options: object) -> None:
        pass

    def delete_sub_user_key(self, sub_uid: int, access_key: str) -> None:
        if self.fail:
            raise RejectedError("POST /v2/sub-user/api-key-deletion: HTX answered 2002")

    def api_keys(self, uid: int) -> list[dict[str, str]]:
        return [{"accessKey": k} for k in self.listed]


def test_revoking_a_sub_users_key_that_is_already_gone_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subuser_lifecycle, "HtxRest", FakeRest)
    store = JsonStore(tmp_path / "k.json")
    store.save(record("GONE"))
    settings = load_settings({"api_url": "http://127.0.0.1:9"}, None, {})
    reporter = Reporter(quiet=True)
    monkeypatch.setattr(FakeRest, "fail", True)
    assert (
        subuser_lifecycle.revoke_sub_user_key(settings, store, record("P"), 7, "GONE", reporter)
        == f"removed from {store.location}"
    )
    monkeypatch.setattr(FakeRest, "listed", ["STILL"])
    with pytest.raises(HtxKeysError, match="The key STILL of sub-user 7 was not revoked") as err:
        subuser_lifecycle.revoke_sub_user_key(settings, store, record("P"), 7, "STILL", reporter)
    assert err.value.hint == "revoke it with `htx-keys keys revoke STILL --sub-uid 7`"
