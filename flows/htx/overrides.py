"""A small TOML file that changes the site's texts and locators without editing the package.

Most people install the tool with pipx, so flows/htx/locators.py sits in site-packages. When HTX
renames a label, `htx-keys doctor` prints the line to put in this file:

    [texts]
    T_IPS = "Bind IP address"          # replaces TEXTS["T_IPS"]; a regex text stays a regex

    [elements."ApiManagementPage.ip_box"]   # replaces that element's ordered ways
    ways = [
      { by = "placeholder", text = "T_IPS_EXAMPLE" },
      { by = "css", css = "textarea[name=ips]" },
    ]

The file is read before any browser starts and checked whole: an unknown name, key or value
is a one-line ConfigError naming the file and the entry.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from automation.errors import ConfigError
from flows.htx import locators
from flows.htx.locators import BY, Way

SITE_FILE_ENV = "HTX_KEYS_SITE_FILE"
SITE_FILE_NAME = "site.toml"  # beside the accounts file: ~/.config/htx-keys/site.toml
WAY_KEYS = tuple(f.name for f in fields(Way))
# The texts and ways as the package ships them: applying overrides again starts from these.
_SHIPPED_TEXTS = dict(locators.TEXTS)
_SHIPPED_ELEMENTS = dict(locators.ELEMENTS)


@dataclass(frozen=True)
class Overrides:
    path: Path
    texts: dict[str, locators.Text] = field(default_factory=dict)
    elements: dict[str, tuple[Way, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.texts or self.elements)


def load_overrides(path: Path, *, required: bool) -> Overrides:
    if not path.is_file():
        if required:
            raise ConfigError(f"{SITE_FILE_ENV}={path}: no such file")
        return Overrides(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc.__class__.__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_overrides(data, path)


def parse_overrides(data: dict[str, Any], path: Path) -> Overrides:
    unknown = sorted(set(data) - {"texts", "elements"})
    if unknown:
        raise ConfigError(f"{path}: unknown table [{unknown[0]}]: use [texts] or [elements.NAME]")
    texts = {name: _text(path, name, value) for name, value in _table(path, data, "texts").items()}
    known_texts = {**_SHIPPED_TEXTS, **texts}
    elements = {
        name: _ways(path, name, value, known_texts)
        for name, value in _table(path, data, "elements").items()
    }
    return Overrides(path, texts, elements)


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {key} must be a table ([{key}])")
    return table


def _text(path: Path, name: str, value: Any) -> locators.Text:
    where = f"{path}: [texts] {name}"
    if name not in _SHIPPED_TEXTS:
        close = _closest(name, _SHIPPED_TEXTS)
        raise ConfigError(f"{where}: unknown text" + (f" (did you mean {close}?)" if close else ""))
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string")
    if isinstance(_SHIPPED_TEXTS[name], re.Pattern):
        try:
            return re.compile(value, re.I)  # the shipped patterns ignore case too
        except re.error as exc:
            raise ConfigError(f"{where}: not a valid regular expression ({exc})") from None
    return value


def _ways(path: Path, name: str, value: Any, texts: dict[str, locators.Text]) -> tuple[Way, ...]:
    where = f'{path}: [elements."{name}"]'
    if name not in _SHIPPED_ELEMENTS:
        close = _closest(name, _SHIPPED_ELEMENTS)
        raise ConfigError(
            f"{where}: unknown element" + (f" (did you mean {close}?)" if close else "")
        )
    if not isinstance(value, dict) or set(value) != {"ways"} or not isinstance(value["ways"], list):
        raise ConfigError(f"{where}: give exactly one key, ways = [ {{ by = ..., ... }}, ... ]")
    if not value["ways"]:
        raise ConfigError(f"{where}: ways is empty")
    return tuple(_way(f"{where} ways[{n}]", item, texts) for n, item in enumerate(value["ways"]))


def _way(where: str, item: Any, texts: dict[str, locators.Text]) -> Way:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be an inline table {{ by = ..., ... }}")
    unknown = sorted(set(item) - set(WAY_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(WAY_KEYS)})")
    if item.get("by") not in BY:
        raise ConfigError(f"{where}: by must be one of {', '.join(BY)}")
    if "exact" in item and not isinstance(item["exact"], bool):
        raise ConfigError(f"{where}: exact must be true or false")
    for key in set(item) - {"exact"}:
        if not isinstance(item[key], str):
            raise ConfigError(f"{where}: {key} must be a string")
    text = item.get("text", "")
    if text and "{" not in text and text not in texts:
        raise ConfigError(f"{where}: text {text!r} names no entry of [texts]")
    for key in ("has", "within"):
        if item.get(key) and item[key] not in _SHIPPED_ELEMENTS:
            raise ConfigError(f"{where}: {key} {item[key]!r} names no element")
    if item["by"] in ("css", "testid") and not item.get("css"):
        raise ConfigError(f'{where}: by = {item["by"]!r} needs css = "..."')
    if item["by"] == "role" and not item.get("role"):
        raise ConfigError(f'{where}: by = "role" needs role = "button" (or another role)')
    return Way(**item)


def _closest(name: str, known: dict[str, Any]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def apply_overrides(overrides: Overrides) -> None:
    """Make the file's texts and ways the ones the flow uses (from the shipped ones, so
    applying twice, or another file, never stacks)."""
    locators.TEXTS.clear()
    locators.TEXTS.update(_SHIPPED_TEXTS)
    locators.TEXTS.update(overrides.texts)
    locators.ELEMENTS.clear()
    locators.ELEMENTS.update(_SHIPPED_ELEMENTS)
    locators.ELEMENTS.update(overrides.elements)


def text_line(name: str, value: str) -> str:
    """The line to put under [texts] for one text, in TOML's own quoting."""
    import json

    return f"{name} = {json.dumps(value, ensure_ascii=False)}"
