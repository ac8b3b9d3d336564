"""Injected misbehaviour, read on every request so a test can change it while the server runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.gateway import check_form


@dataclass
class Faults:
    # Every page-JS call waits a random 0.5x-1.5x of this: dialogs and errors appear late, as on
    # the live site, so the flow cannot get away with reading the page too early.
    latency_ms: int = 200
    # Verification mail is handed to the mail server this much later (in a background thread).
    mail_delay_s: float = 0.0
    # The mail is built (and kept in the outbox) but never delivered.
    drop_mail: bool = False
    # The create call answers HTTP 500 with the site's generic error text.
    fail_create: bool = False
    # The key list call (/-/x/web/apikey/list) alone waits this much longer: a table that
    # stays "Loading..." long after the page is there.
    list_delay_s: float = 0.0
    # Every page shows an overlay the tool does not know (a survey), covering the page.
    unknown_overlay: bool = False
    # Text replacements in every page and script of the website (not the REST API), e.g.
    # {"Link IP Address (optional)": "IP whitelist"}: HTX renaming a label, so a test can show
    # which locator breaks. Applied by sandbox.relabel.Relabel.
    labels: dict[str, str] = field(default_factory=dict)
    # The wording of the REST gateway's refusals: "live" (English, then the Chinese in brackets),
    # "old" (2018: the reason in Chinese only) or "chinese" (all Chinese). See sandbox/gateway.py.
    error_texts: str = "live"

    def __post_init__(self) -> None:
        check_form(self.error_texts)
