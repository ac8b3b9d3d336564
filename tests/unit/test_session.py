"""A saved browser session's tokens enter the redactor when it is loaded, saved or read from
the browser, so they are scrubbed from every output; flags and settings stored beside them
are not, or every URL and page text they also appear in would be mangled."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from automation.artifacts import register_session
from automation.redaction import REDACTOR, Redactor
from automation.session import FileSession, looks_like_token, register_state

MASK = Redactor.MASK


def state() -> tuple[dict[str, Any], dict[str, str]]:
    """A storage state as Playwright writes it, and the tokens in it by name."""
    tokens = {
        "session": secrets.token_hex(20),  # HttpOnly: a session whatever it looks like
        "short_http_only": secrets.token_hex(3),
        "csrf": f"x{secrets.token_hex(4)}9",  # 10 characters, letters and digits
        "jwt": f"eyJ{secrets.token_urlsafe(24)}",
        "inner": secrets.token_urlsafe(18),
        "refresh": f"r{secrets.token_hex(5)}",
    }
    data = {
        "cookies": [
            {"name": "HB-SESSION", "value": tokens["session"], "httpOnly": True},
            {"name": "sid", "value": tokens["short_http_only"], "httpOnly": True},
            {"name": "csrf", "value": tokens["csrf"], "httpOnly": False},
            {"name": "lang", "value": "en-us", "httpOnly": False},
            {"name": "theme", "value": "dark-mode", "httpOnly": False},
            {"name": "consent", "value": "1", "httpOnly": False},
        ],
        "origins": [
            {
                "origin": "https://www.htx.com",
                "localStorage": [
                    {"name": "token", "value": tokens["jwt"]},
                    {
                        "name": "auth",
                        "value": json.dumps(
                            {"token": tokens["inner"], "refresh": [tokens["refresh"]], "ttl": 30}
                        ),
                    },
                    {"name": "currency", "value": "usdt"},
                    {"name": "lastVisit", "value": "2024-05-01"},
                ],
            }
        ],
    }
    return data, tokens


def leaked(tokens: dict[str, str]) -> list[str]:
    return [name for name, value in tokens.items() if REDACTOR.scrub(f"<{value}>") != f"<{MASK}>"]


def test_loading_a_saved_session_registers_its_tokens(tmp_path: Path) -> None:
    data, tokens = state()
    path = tmp_path / "session.json"
    path.write_text(json.dumps(data))
    assert FileSession(path).load() == data
    assert leaked(tokens) == []
    # The token inside a JSON value is masked where it travels alone (a request header).
    assert (
        REDACTOR.scrub(f"Authorization: Bearer {tokens['inner']}")
        == f"Authorization: Bearer {MASK}"
    )


def test_saving_a_session_registers_its_tokens(tmp_path: Path) -> None:
    data, tokens = state()
    FileSession(tmp_path / "session.json").save(data)
    assert leaked(tokens) == []


def test_flags_and_settings_beside_the_tokens_are_left_alone(tmp_path: Path) -> None:
    data, _tokens = state()
    register_state(data)
    url = "https://www.htx.com/en-us/apikey/?currency=usdt&theme=dark-mode&since=2024-05-01"
    assert REDACTOR.scrub(url) == url


def test_the_browsers_own_session_is_registered_by_the_same_rule() -> None:
    """What the recorder registers from the live context before it saves a trace."""
    data, tokens = state()

    class Context:
        def storage_state(self) -> dict[str, Any]:
            return data

    register_session(Context())
    assert leaked(tokens) == []


def test_a_hand_edited_file_with_odd_entries_still_loads(tmp_path: Path) -> None:
    token = secrets.token_hex(12)
    path = tmp_path / "session.json"
    odd = {"cookies": ["junk", {"value": token}], "origins": {"not": "a list"}}
    path.write_text(json.dumps(odd))
    assert FileSession(path).load() == odd
    assert REDACTOR.scrub(token) == MASK


def test_what_looks_like_a_token() -> None:
    for token in ("a" * 16, "abc12345", "0123456789abcdef0123", "eyJhbGciOiJIUzI1NiJ9"):
        assert looks_like_token(token), token
    for value in ("en-us", "true", "dark-mode", "1234567", "2024-05-01", "light theme 2"):
        assert not looks_like_token(value), value
