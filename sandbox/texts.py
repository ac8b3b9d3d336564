"""Texts of the single-page-app parts of the replica, in one place (sandbox/README.md lists
them, marked [I]: the live site's own wording for these is not known).

Templates read them as `T.<NAME>`; page scripts get them through data attributes, so a
relabel fault (sandbox/relabel.py) reaches them like any other text of the site.
"""

from __future__ import annotations

# The key table while its list is on the way, and with no key in it.
LOADING = "Loading..."
NO_DATA = "No data"
# First visit (no consent cookie): a cookie banner at the bottom of every page.
COOKIE_TEXT = (
    "We use cookies to keep you signed in, remember your settings and improve HTX. "
    "See our Cookie Policy."
)
COOKIE_ACCEPT = "Accept All"
COOKIE_REJECT = "Reject"
# First visit: an announcement modal over the page, shortly after it loads.
NOTICE_TITLE = "Announcement"
NOTICE_TEXT = (
    "HTX will upgrade its systems on December 1. Deposits and withdrawals may be delayed "
    "for up to 30 minutes; trading is not affected."
)
NOTICE_DISMISS = "I Understand"
# A fault (Faults.unknown_overlay): an overlay the tool has never seen, with no way out.
SURVEY_TITLE = "Help us improve HTX"
SURVEY_TEXT = "Tell us what you think of the new design: it takes one minute."
# Cookies that remember a dismissed banner / announcement for one year.
CONSENT_COOKIE = "htx_consent"
THEME_COOKIE = "htx_theme"  # "dark" / "light": the top bar's theme switch; none: the system's
THEMES = ("light", "dark")
NOTICE_COOKIE = "htx_notice"
# A fault (Faults.send_rate_limited): Send refused for asking too often. HTX's REST gateway's
# wording for its frequency limit [V: ccxt htx.py]; that the website's Send says the same is [I].
SEND_RATE_LIMITED = "Frequency of requests has exceeded the limit, please try again later"
