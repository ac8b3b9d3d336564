"""Helpers for tests that need a real Secret Service (gnome-keyring on a private D-Bus).

scripts/test.sh runs pytest inside dbus-run-session with an unlocked gnome-keyring-daemon and a
private HOME. Outside it these tests skip, unless HTX_KEYS_REQUIRE_SERVICES=1 (CI), where a
missing service is a failure: a test run that silently skipped the keyring proves nothing.

Import the fixtures into a test module:
    from tests.support.keyring_env import keyring_service, secret_service  # noqa: F401
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService

# keyring's SecretService backend (default scheme) stores an entry with these attributes;
# see keyring.backend.SchemeSelectable.schemes and SecretService.Keyring.set_password.
SERVICE_ATTRIBUTE = "service"
USERNAME_ATTRIBUTE = "username"


def secret_service_problem() -> str | None:
    """None when keyring's active backend is a working Secret Service, else why not."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        return f"keyring could not load a backend ({type(exc).__name__}: {exc})"
    if not isinstance(backend, SecretService.Keyring):
        name = f"{type(backend).__module__}.{type(backend).__qualname__}"
        return f"keyring's active backend is {name}, not keyring.backends.SecretService.Keyring"
    entry, value = f"probe-{secrets.token_hex(4)}", secrets.token_hex(8)
    try:
        backend.set_password("htx-keys-test-probe", entry, value)
        read = backend.get_password("htx-keys-test-probe", entry)
        backend.delete_password("htx-keys-test-probe", entry)
    except Exception as exc:
        return f"the Secret Service does not work ({type(exc).__name__}: {exc})"
    if read != value:
        return "the Secret Service returned something else than was stored"
    return None


@pytest.fixture
def secret_service() -> KeyringBackend:
    """The active SecretService backend; skip (or fail under HTX_KEYS_REQUIRE_SERVICES=1)."""
    problem = secret_service_problem()
    if problem:
        if os.environ.get("HTX_KEYS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HTX_KEYS_REQUIRE_SERVICES=1 but {problem}", pytrace=False)
        pytest.skip("no Secret Service: run the tests through scripts/test.sh")
    return keyring.get_keyring()


@pytest.fixture
def keyring_service(secret_service: KeyringBackend) -> Iterator[str]:
    """A service name no other test uses; every entry under it is removed afterwards."""
    service = f"htx-keys-test-{secrets.token_hex(4)}"
    yield service
    if shutil.which("secret-tool"):
        subprocess.run(
            ["secret-tool", "clear", SERVICE_ATTRIBUTE, service],
            capture_output=True,
            timeout=30,
            check=False,
        )


def secret_tool_lookup(service: str, account: str) -> str | None:
    """The secret stored for (service, account), read with secret-tool, not with keyring.

    Proves an entry is really in the Secret Service, not in some other backend keyring
    might have picked. None when there is no such entry.
    """
    if not shutil.which("secret-tool"):
        raise RuntimeError("secret-tool is not installed (apt-get install libsecret-tools)")
    result = subprocess.run(
        ["secret-tool", "lookup", SERVICE_ATTRIBUTE, service, USERNAME_ATTRIBUTE, account],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return None
    # Printed as stored: secret-tool adds a newline only when stdout is a terminal.
    return result.stdout
