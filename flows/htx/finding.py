"""Turning the data of flows/htx/locators.py into Playwright locators, and clicking safely.

`find(scope, name)`: the element's ways in order; the first that matches a visible element
wins. When none does yet (a single-page app draws late), the answer is all of them joined, so
a wait sees whichever appears first.

`press(locator, what)`: click, once nothing covers the element; an overlay a first visit shows
(KNOWN_OVERLAYS) in the way is dismissed first, and one the tool does not know stops the run
with a one-line SiteError naming it, rather than a click that times out half a minute later.
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.errors import SiteError
from flows.htx import locators
from flows.htx.locators import Way

Scope = Page | Locator
_FIELD = re.compile(r"\{([^{}]+)\}")
CLICK_TRY_MS = 3_000  # one try at a click; a late overlay is looked for between tries


def text(name: str) -> locators.Text:
    try:
        return locators.TEXTS[name]
    except KeyError:
        raise KeyError(f"no text {name!r} in flows/htx/locators.py TEXTS") from None


def fill_in(template: str, args: dict[str, str]) -> str:
    """ "{perm}" from the arguments, then "{T_NAME}" from TEXTS (innermost first)."""
    for _ in range(3):

        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in args:
                return args[key]
            value = locators.TEXTS.get(key)
            return value if isinstance(value, str) else match.group(0)

        done = _FIELD.sub(one, template)
        if done == template:
            break
        template = done
    return template


def _way(scope: Scope, way: Way, args: dict[str, str], within: dict[str, Locator]) -> Locator:
    if way.within:
        if way.within not in within:  # several ways inside one element look for it once
            within[way.within] = find(scope, way.within, **args)
        scope = within[way.within]
    label: Any = text(fill_in(way.text, args)) if way.text else None
    if way.by == "role":
        found = (
            scope.get_by_role(way.role, name=label, exact=way.exact)  # type: ignore[arg-type]
            if label is not None
            else scope.get_by_role(way.role)  # type: ignore[arg-type]
        )
    elif way.by == "label":
        found = scope.get_by_label(label, exact=way.exact)
    elif way.by == "placeholder":
        found = scope.get_by_placeholder(label, exact=way.exact)
    elif way.by == "text":
        found = scope.get_by_text(label, exact=way.exact).filter(visible=True)
    elif way.by == "testid":
        found = scope.get_by_test_id(fill_in(way.css, args)).filter(visible=True)
    elif way.by == "css":
        found = scope.locator(fill_in(way.css, args)).filter(visible=True)
    else:
        raise ValueError(f"unknown way {way.by!r} (one of {', '.join(locators.BY)})")
    if way.has_text:
        found = found.filter(has_text=fill_in(way.has_text, args))
    if way.has:
        found = found.filter(has=find(scope, way.has, **args))
    return found


def describe(way: Way, **args: str) -> str:
    """A way as a person reads it: "label 'Note'", "role button 'Create'", "css form"."""
    if way.by in ("css", "testid"):
        return f"{way.by} {fill_in(way.css, args)}"
    shown = text(fill_in(way.text, args)) if way.text else ""
    shown = shown.pattern if isinstance(shown, re.Pattern) else shown
    kind = f"role {way.role}" if way.by == "role" else way.by
    return f"{kind} '{shown}'" if shown else kind


def ways(scope: Scope, name: str, **args: str) -> list[Locator]:
    """Each way of finding the element, in order."""
    try:
        element = locators.ELEMENTS[name]
    except KeyError:
        raise KeyError(f"no element {name!r} in flows/htx/locators.py ELEMENTS") from None
    within: dict[str, Locator] = {}
    return [_way(scope, way, args, within) for way in element]


# Which way found each element the last time it was looked for (its index in the element's
# list; absent while none had matched): `doctor` tells a fallback from the first way.
FOUND_BY: dict[str, int] = {}


def find(scope: Scope, name: str, **args: str) -> Locator:
    """The element `name` of locators.ELEMENTS: the first way with a visible match, else all
    of them joined (to wait for)."""
    found = ways(scope, name, **args)
    if len(found) == 1:
        FOUND_BY.pop(name, None)  # one way: nothing to choose, nothing to ask the page
        return found[0]
    for index, locator in enumerate(found):
        if index == 1 and _shows(_joined(found[1:])) is False:
            break  # none of the others shows either: asked of the page once, not way by way
        if _shows(locator):
            FOUND_BY[name] = index
            return locator
    FOUND_BY.pop(name, None)
    return _joined(found)


def shows(scope: Scope, name: str, **args: str) -> bool:
    """Whether the element `name` shows, by any of its ways: one question to the page (`find`
    asks way by way, to know which one to use)."""
    return bool(_joined(ways(scope, name, **args)).filter(visible=True).count())


def _shows(locator: Locator) -> bool | None:
    """Whether it matches a visible element; None when the page cannot evaluate it (a bad
    selector: a way that fails, and that spoils any locator it is joined into)."""
    try:
        return bool(locator.filter(visible=True).count())
    except PlaywrightError:
        return None


def _joined(found: list[Locator]) -> Locator:
    joined = found[0]
    for locator in found[1:]:
        joined = joined.or_(locator)
    return joined


# --- overlays --------------------------------------------------------------------------------
def dismiss_overlays(page: Page, timeout_ms: float = 2_000, look: bool = True) -> list[str]:
    """Close the known first-visit overlays that are showing; their names, for the log.
    `look=False`: the caller has just seen that one shows."""
    if look and not _any_overlay(page):
        return []
    closed = []
    for overlay, (root_name, button_name) in locators.KNOWN_OVERLAYS.items():
        button = find(page, button_name)
        try:
            if not (button.count() and button.first.is_visible()):
                continue
            button.first.click(timeout=timeout_ms)
            find(page, root_name).first.wait_for(state="hidden", timeout=timeout_ms)
        except PlaywrightError:
            continue  # gone by itself meanwhile, or not closable: covered() will tell
        closed.append(overlay)
    return closed


def _any_overlay(page: Page) -> bool:
    """Whether any known overlay's button shows, asked of the page once (usually none does)."""
    buttons = [w for _, name in locators.KNOWN_OVERLAYS.values() for w in ways(page, name)]
    if not buttons:
        return False
    try:
        return bool(_joined(buttons).filter(visible=True).count())
    except PlaywrightError:
        return True  # a way the page cannot evaluate: let each overlay be looked at alone


def clear_first_visit(page: Page, settle_ms: float = 1_500) -> list[str]:
    """Dismiss the first-visit overlays as a person would on arrival. A cookie banner means a
    first visit, when an announcement may still be on its way: it is waited for a moment, so
    the pictures of the next steps show the page itself. An overlay that could not be closed
    yet (the announcement arriving over the banner took its click) is tried again meanwhile."""
    if not _any_overlay(page):
        return []
    closed = dismiss_overlays(page, look=False)
    deadline = time.monotonic() + settle_ms / 1000
    while time.monotonic() < deadline and len(closed) < len(locators.KNOWN_OVERLAYS):
        page.wait_for_timeout(100)
        closed += dismiss_overlays(page)
    return closed


# The element on top where `el` should be, unless it is `el` itself (or inside it): what a
# person would see covering it, named by its role and name, heading or first words.
_COVERED = """(el) => {
  el.scrollIntoView({block: "center", inline: "center"});
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height) return null;
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const top = document.elementFromPoint(x, y);
  if (!top || el === top || el.contains(top) || top.contains(el)) return null;
  const control = el.closest("label");
  if (control && control.contains(top)) return null;
  let box = top;
  for (let n = top; n && n !== document.body; n = n.parentElement) {
    const style = getComputedStyle(n);
    const modal = n.getAttribute("role") === "dialog" || n.tagName === "DIALOG";
    if (style.position === "fixed" || modal) box = n;
  }
  const named = box.querySelector("[aria-label], h1, h2, h3, [role=heading]");
  const role = box.getAttribute("role")
    || (box.querySelector("[role=dialog]") ? "dialog" : box.tagName.toLowerCase());
  const name = box.getAttribute("aria-label")
    || (named && (named.getAttribute("aria-label") || named.textContent))
    || box.textContent || "";
  return role + " '" + name.replace(/\\s+/g, " ").trim().slice(0, 60) + "'";
}"""


def covered_by(locator: Locator, timeout_ms: float = 30_000) -> str | None:
    """What covers the element at its centre (waiting up to `timeout_ms` for it to be there),
    or None when a click would reach it."""
    try:
        result = locator.first.evaluate(_COVERED, timeout=timeout_ms)
    except PlaywrightTimeout:
        raise
    except PlaywrightError:
        return None  # detached meanwhile: the click will say what is wrong
    return str(result) if result else None


def press(locator: Locator, what: str, timeout_ms: float = 30_000) -> None:
    """Click `locator` (`what` names it in errors: "the Create button") once nothing covers it.

    Two calls to the page when nothing is in the way: where its centre is covered, then the
    click. A known overlay in the way is dismissed; an unknown one that stays is an error."""
    page = locator.page
    deadline = time.monotonic() + timeout_ms / 1000
    unknown = 0
    while True:
        left = (deadline - time.monotonic()) * 1000
        cover = covered_by(locator, max(1.0, left))
        if cover is not None:
            if dismiss_overlays(page) and time.monotonic() < deadline:
                continue  # a known one was in the way: look again
            unknown += 1
            if unknown >= 3:  # not one we know, and it stays
                raise SiteError(
                    f"An unknown overlay covers {what}: {cover}",
                    hint="run with --headed to see it; the known ones are "
                    + ", ".join(locators.KNOWN_OVERLAYS),
                )
            page.wait_for_timeout(500)  # an overlay fading in or out
            continue
        left = (deadline - time.monotonic()) * 1000
        try:
            locator.click(timeout=max(1.0, min(CLICK_TRY_MS, left)))
            return
        except PlaywrightTimeout:
            if time.monotonic() >= deadline:
                raise
            # An overlay arrived between the look and the click, or the element was busy.
            dismiss_overlays(page)


# --- reading what the page shows -------------------------------------------------------------
def seconds_until_enabled(send: Locator) -> int:
    """0 when a Send button can be pressed; else what its countdown says ("Resend (42s)")."""
    if send.is_enabled():
        return 0
    match = _countdown().match(send.inner_text().strip())
    return int(match.group(1)) if match else 60


def counting_down(button: Locator) -> Locator:
    """The button while it shows a countdown ("Resend (42s)"): a code went out."""
    return button.filter(has_text=_countdown())


def read_value(box: Locator) -> str:
    """The text of a read-only textbox, or of an element that shows the value as text."""
    tag = box.evaluate("el => el.tagName.toLowerCase()")
    value = box.input_value() if tag in ("input", "textarea") else box.inner_text()
    return value.strip()


def first_of(wanted: Locator, error: Locator, timeout_ms: float) -> str | None:
    """Wait until either shows: None for `wanted`, else the error's text.

    Pages here answer through scripts, so a click is followed by a wait for its outcome,
    whichever of the two it is, rather than a fixed pause.
    """
    wanted.or_(error).first.wait_for(timeout=timeout_ms)
    if wanted.first.is_visible():
        return None
    return error.first.inner_text().strip()


def _countdown() -> re.Pattern[str]:
    pattern = locators.TEXTS["T_COUNTDOWN"]
    return pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
