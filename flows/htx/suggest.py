"""When a label is not where the flow expects it: the texts on the page closest to it.

`htx-keys doctor` uses this to print the line of the site file that fixes a renamed label:
labels, placeholders, accessible names, buttons, headings and short texts that a person sees,
ranked by how alike they are to the text the flow looked for.
"""

from __future__ import annotations

import difflib

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

MIN_LIKENESS = 0.4  # below this a text is no candidate: a wrong suggestion costs a person time
MAX_TEXT = 80

# What a person reads as the name of a field or a button, from the visible elements only.
_PAGE_TEXTS = (
    """() => {
  const seen = new Set();
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const add = (el, text) => {
    const t = (text || "").replace(/\\s+/g, " ").trim();
    if (t && t.length <= MAX && visible(el)) { seen.add(t); }
  };
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  all("label, legend, th, h1, h2, h3, button, a, [role=button], [role=menuitem], [role=tab]")
    .forEach((el) => add(el, el.innerText));
  all("[placeholder]").forEach((el) => add(el, el.getAttribute("placeholder")));
  all("[aria-label]").forEach((el) => add(el, el.getAttribute("aria-label")));
  all("span, div, p, td").forEach((el) => { if (!el.children.length) { add(el, el.innerText); } });
  return Array.from(seen);
}"""
).replace("MAX", str(MAX_TEXT))


# The texts that name one element: its aria-label, its tied labels, and the nearest text before
# it or its parents (a form row's label, tied or not).
_NEAR_TEXTS = """(el) => {
  const out = [];
  const add = (text) => {
    const t = (text || "").replace(/\\s+/g, " ").trim();
    if (t && t.length <= MAX && !out.includes(t)) { out.push(t); }
  };
  add(el.getAttribute("aria-label"));
  Array.from(el.labels || []).forEach((label) => add(label.innerText));
  let node = el;
  for (let depth = 0; depth < 3 && node; depth += 1) {
    for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
      if (sib.innerText && sib.innerText.trim()) { add(sib.innerText); break; }
    }
    node = node.parentElement;
  }
  return out;
}""".replace("MAX", str(MAX_TEXT))


def likeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def rank(expected: str, texts: list[str], n: int = 3) -> list[str]:
    """The `n` texts most like `expected` (and at least MIN_LIKENESS alike), best first;
    `expected` itself is no suggestion."""
    scored = [(likeness(expected, t), t) for t in set(texts) if t != expected]
    scored = [(score, t) for score, t in scored if score >= MIN_LIKENESS]
    return [t for _score, t in sorted(scored, key=lambda st: (-st[0], st[1]))[:n]]


def closest_texts(page: Page, expected: str, near: Locator | None = None, n: int = 3) -> list[str]:
    """What the page shows instead of `expected`: first the texts that name the element `near`
    (found another way, so the surest), then the page's texts most like `expected`."""
    found: list[str] = []
    try:
        if near is not None:
            named = [str(t) for t in near.evaluate(_NEAR_TEXTS, timeout=2_000) if t != expected]
            # The nearest is the surest; farther ones (a row above) only when they look alike.
            found = named[:1] + [t for t in named[1:] if likeness(expected, t) >= MIN_LIKENESS]
        texts = page.evaluate(_PAGE_TEXTS)
    except PlaywrightError:
        return found[:n]
    similar = [t for t in rank(expected, [str(t) for t in texts], n) if t not in found]
    return [*found, *similar][:n]
