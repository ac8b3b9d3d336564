"""A renamed label, fixed the way a pipx user would: doctor prints the line for the site file
beside the accounts file, the user puts it there, and the next key is made with it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.htx.overrides import Overrides, apply_overrides
from tests.support.cli import invoke, run_cli
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(25)]

RENAMED = {"Link IP Address (optional)": "IP whitelist"}
LINE = re.compile(r"put this line under \[texts\] in (\S+): (T_IPS = \"[^\"]*\")")


@pytest.fixture(autouse=True)
def shipped_locators() -> Iterator[None]:
    yield
    apply_overrides(Overrides(Path("none")))  # doctor ran in this process: undo its file


def ip_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    (row,) = [r for r in rows if r["check"].startswith("API Management: textbox 'IP")
              or r["check"].startswith("API Management: textbox 'Link IP")]  # fmt: skip
    return row


def test_the_line_doctor_prints_fixes_a_renamed_label(
    htx_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = htx_site
    monkeypatch.chdir(tmp_path)
    accounts = tmp_path / "config" / "htx-keys" / "accounts.toml"  # --config's default place
    env = site.env(HTX_KEYS_CONFIG=str(accounts), HTX_KEYS_STORE=f"json:{tmp_path / 'k.json'}")
    site.server.faults.labels = RENAMED

    first = invoke(["doctor", "--quiet", "--format", "json"], env=env)
    assert first.exit_code == 0, first.output
    rows = json.loads(first.stdout)
    row = ip_row(rows)
    assert row["detail"].startswith("found by its fallback placeholder"), row
    match = LINE.search(row["fix"])
    assert match, row["fix"]
    where, line = Path(match.group(1)), match.group(2)
    assert where == accounts.parent / "site.toml"
    assert line == 'T_IPS = "IP whitelist"'
    assert next(r for r in rows if r["check"] == "site file")["result"] == "skip"

    where.parent.mkdir(parents=True)
    where.write_text(f"# from htx-keys doctor\n[texts]\n{line}\n")
    second = invoke(["doctor", "--quiet", "--format", "json"], env=env)
    assert second.exit_code == 0, second.output
    rows = json.loads(second.stdout)
    fixed = ip_row(rows)
    assert fixed == {"check": "API Management: textbox 'IP whitelist'", "result": "pass",
                     "detail": "", "fix": ""}  # fmt: skip
    site_row = next(r for r in rows if r["check"] == "site file")
    assert site_row["detail"] == f"1 text(s), 0 element(s) from {where}"

    made = run_cli(
        ["provision", "--note", "with the site file", "--ip", "127.0.0.1", "--format", "json"],
        env,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.explain()
    assert json.loads(made.stdout)["ip_addresses"] == ["127.0.0.1"]
    (key,) = [k for k in site.server.state.keys_for(site.account.email)
              if k.note.startswith("with the site file")]  # fmt: skip
    assert key.ip_addresses == ("127.0.0.1",)  # the box found by its renamed label was filled
