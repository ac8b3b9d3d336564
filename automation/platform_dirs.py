"""Where htx-keys keeps its files on macOS and Windows, by each platform's conventions.

Linux and the BSDs keep the XDG folders (~/.config, ~/.local/state, ~/.local/share, or the
XDG_* variables), decided where each is used. An XDG_* variable that is set wins on every
platform: someone who set it asked for it. Otherwise, as platformdirs has them:

* macOS: ~/Library/Application Support/htx-keys for the accounts and site files, state and data.
* Windows: the accounts and site files (no secrets, worth taking to another PC) in the roaming
  %APPDATA%\\htx-keys; state (locks, the GA ledger, runs, rescue files) and data in the local
  %LOCALAPPDATA%\\htx-keys, which stays on the machine.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

APP_NAME = "htx-keys"
Kind = Literal["config", "state", "data"]
XDG_VARIABLES: dict[Kind, str] = {
    "config": "XDG_CONFIG_HOME",
    "state": "XDG_STATE_HOME",
    "data": "XDG_DATA_HOME",
}


def native_dir(kind: Kind, environ: Mapping[str, str]) -> Path | None:
    """The platform's own folder of this kind, or None where the XDG rules apply (Linux and
    other Unix systems, or any platform with the XDG variable set)."""
    if environ.get(XDG_VARIABLES[kind]):
        return None
    if sys.platform == "darwin":
        from platformdirs.macos import MacOS

        mac = MacOS(APP_NAME, appauthor=False)
        return Path(
            {"config": mac.user_config_dir, "state": mac.user_state_dir}.get(
                kind, mac.user_data_dir
            )
        )
    if sys.platform == "win32":
        from platformdirs.windows import Windows

        roaming = Windows(APP_NAME, appauthor=False, roaming=True)
        local = Windows(APP_NAME, appauthor=False, roaming=False)
        if kind == "config":
            return Path(roaming.user_config_dir)
        return Path(local.user_state_dir if kind == "state" else local.user_data_dir)
    return None
