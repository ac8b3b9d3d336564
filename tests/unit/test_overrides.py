"""The site file: texts and locators replaced without editing the package, checked whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.errors import ConfigError, ExitStatus
from flows.htx import locators
from flows.htx.locators import Way
from flows.htx.overrides import Overrides, apply_overrides, load_overrides, text_line
from flows.htx.suggest import rank
from tests.support.cli import invoke


@pytest.fixture(autouse=True)
def shipped() -> Iterator[None]:
    yield
    apply_overrides(Overrides(Path("none")))  # what the next test sees: the shipped data


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_texts_and_ways_replace_the_shipped_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[texts]\nT_IPS = "Bind IP address"\nT_SEND = "^(Send|Get it)$"\n\n'
        '[elements."ApiManagementPage.ip_box"]\n'
        'ways = [{ by = "placeholder", text = "T_IPS_EXAMPLE" }, '
        '{ by = "css", css = "textarea[name=ips]" }]\n',
    )
    overrides = load_overrides(path, required=True)
    apply_overrides(overrides)
    assert locators.TEXTS["T_IPS"] == "Bind IP address"
    send = locators.TEXTS["T_SEND"]
    assert isinstance(send, re.Pattern) and send.match("get it")  # a pattern stays one
    assert locators.ELEMENTS["ApiManagementPage.ip_box"] == (
        Way("placeholder", "T_IPS_EXAMPLE"),
        Way("css", css="textarea[name=ips]"),
    )
    apply_overrides(load_overrides(write(tmp_path, '[texts]\nT_NOTE = "Label"\n'), required=True))
    assert locators.TEXTS["T_IPS"] == "Link IP Address (optional)"  # never stacked
    assert locators.TEXTS["T_NOTE"] == "Label"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[texts]\nT_IPZ = "x"\n', "[texts] T_IPZ: unknown text (did you mean T_IPS?)"),
        ("[texts]\nT_IPS = 3\n", "[texts] T_IPS: must be a non-empty string"),
        ('[texts]\nT_SEND = "("\n', "[texts] T_SEND: not a valid regular expression"),
        ('[pages]\nx = "y"\n', "unknown table [pages]: use [texts] or [elements.NAME]"),
        (
            '[elements."ApiManagementPage.ip_boxx"]\nways = [{ by = "label", text = "T_IPS" }]\n',
            '[elements."ApiManagementPage.ip_boxx"]: unknown element '
            "(did you mean ApiManagementPage.ip_box?)",
        ),
        (
            '[elements."ApiManagementPage.ip_box"]\nways = [{ by = "xpath", css = "//a" }]\n',
            '[elements."ApiManagementPage.ip_box"] ways[0]: by must be one of role, label, '
            "placeholder, text, css, testid",
        ),
        (
            '[elements."ApiManagementPage.ip_box"]\nways = [{ by = "label", text = "T_NOPE" }]\n',
            "ways[0]: text 'T_NOPE' names no entry of [texts]",
        ),
        (
            '[elements."ApiManagementPage.ip_box"]\nways = [{ by = "css" }]\n',
            "ways[0]: by = 'css' needs css = \"...\"",
        ),
        (
            '[elements."ApiManagementPage.ip_box"]\nways = [{ by = "label", colour = "x" }]\n',
            "ways[0]: unknown key 'colour'",
        ),
        ("[texts\n", "not valid TOML"),
    ],
)
def test_a_bad_entry_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_overrides(path, required=True)
    assert message in err.value.message
    assert err.value.message.startswith(f"{path}: ")
    assert "\n" not in err.value.message


def test_a_missing_file_is_an_error_only_when_named(tmp_path: Path) -> None:
    assert not load_overrides(tmp_path / "site.toml", required=False)
    with pytest.raises(ConfigError, match=r"HTX_KEYS_SITE_FILE=.*: no such file"):
        load_overrides(tmp_path / "site.toml", required=True)


def test_provision_refuses_a_bad_site_file_before_any_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, '[texts]\nT_IPZ = "x"\n')
    env = {
        "HTX_EMAIL": "a@example.com",
        "HTX_PASSWORD": "pw",
        "HTX_TOTP_SECRET": "JBSWY3DPEHPK3PXP",
        "HTX_IMAP_HOST": "127.0.0.1",
        "HTX_IMAP_PASSWORD": "pw",
        "HTX_KEYS_SITE_FILE": str(path),
        "HTX_KEYS_STATE_DIR": str(tmp_path / "state"),
    }
    run = invoke(["provision", "--note", "x", "--store", f"json:{tmp_path / 'k.json'}"], env=env)
    assert run.exit_code == ExitStatus.CONFIG, run.output
    assert run.error == f"{path}: [texts] T_IPZ: unknown text (did you mean T_IPS?)"


def test_the_suggested_line_is_valid_toml_and_the_closest_text_comes_first() -> None:
    texts = ["IP whitelist", "Bind IP Address", "Create", "Link IP address"]
    assert rank("Link IP Address (optional)", texts) == ["Link IP address", "Bind IP Address"]
    assert rank("Note", ["Note"]) == []  # the text itself is no suggestion
    assert text_line("T_IPS", 'say "hi"') == 'T_IPS = "say \\"hi\\""'


def test_a_renamed_secret_field_is_still_blurred_and_a_renamed_permission_still_read(
    tmp_path: Path,
) -> None:
    from flows.htx.key_list import from_row
    from flows.htx.pages import KeyRow, sensitive_labels

    path = write(tmp_path, '[texts]\nT_SECRET_KEY = "API Secret"\n"T_PERMISSION[trade]" = "Spot"\n')
    apply_overrides(load_overrides(path, required=True))
    assert {"Secret Key", "API Secret"} <= set(sensitive_labels())
    row = KeyRow("2026-01-01 00:00", "n", "Read-only, Spot", "ak", "--", "Permanent", "Normal")
    assert from_row(row).permissions == ("read", "trade")
