"""Blur sensitive fields and text in the page itself, before the browser paints them.

Videos and trace screenshots are made of the frames Chromium paints, so masking a picture
afterwards is too late: the only safe place is the page's own style. An init script marks every
sensitive element with an attribute that a stylesheet blurs, as soon as the element exists:

* form controls by their label (the flow's page objects name the labels), password inputs and
  one-time-code inputs;
* any element whose text, or any control whose value, contains an email address (masked forms
  such as ``de***@example.com`` included), the account's number ("UID 10000001"), or one of a
  few given texts (the account's login, the new access key).

Marking runs in a MutationObserver, whose callbacks run before the next rendering step, and as a
value is typed or set by a script (which no observer sees). An animation-frame loop would do
too, but keeps Chromium painting frames that the video and the trace would store.

Registered secrets are never handed to the page: its scripts could read them. The fields that
hold them are found by label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.runner import Step, tracing_group

ATTR = "data-htx-keys-blur"  # our own attribute, not the site's: the flows' selectors are apart
EMPTY = "empty"  # its value on a marked field that holds nothing (yet)

_FUNCTION = r"""
(config) => {
  const ATTR = "data-htx-keys-blur";
  const KEY = "__htxKeysBlur";
  const EMPTY = "empty";
  const clean = (list) => (list || []).filter((t) => typeof t === "string" && t.length >= 4);
  const existing = window[KEY];
  if (existing) {
    existing.update(clean(config.texts));
    return;
  }
  let texts = clean(config.texts);
  const labels = (config.labels || []).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const EMAIL = /[^\s@<>"'()]+@[^\s@<>"'()]+\.[A-Za-z]{2,}/;
  const UID = /\bUID\b[\s:#]*\d{5,}/;  // the account's number, as the header shows it
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TITLE", "HEAD", "HTML"]);
  const CSS = `[${ATTR}] { filter: blur(10px) !important; }
input[${ATTR}], textarea[${ATTR}] { -webkit-text-security: disc !important; }`;

  const hit = (s) => !!s && (EMAIL.test(s) || UID.test(s) || texts.some((t) => s.includes(t)));
  const norm = (s) => (s || "").replace(/\s+/g, " ").trim().toLowerCase();
  const named = (s) => { const n = norm(s); return !!n && labels.some((l) => n.includes(l)); };
  const mark = (el) => {
    if (el && el.nodeType === 1 && !SKIP.has(el.tagName) && !el.hasAttribute(ATTR)) {
      el.setAttribute(ATTR, "");
    }
  };
  const labelled = (el) => {
    if (named(el.getAttribute("aria-label")) || named(el.getAttribute("placeholder"))) return true;
    for (const id of (el.getAttribute("aria-labelledby") || "").split(/\s+/)) {
      const l = id && document.getElementById(id);
      if (l && named(l.textContent)) return true;
    }
    for (const l of el.labels || []) if (named(l.textContent)) return true;
    return false;
  };
  const control = (el) => {
    if (!el.hasAttribute(ATTR) && (el.type === "password" || el.autocomplete === "one-time-code"
        || labelled(el) || hit(el.value))) mark(el);
    // An empty field shows nothing: pictures need not paint over it (a button may sit on it).
    if (el.hasAttribute(ATTR)) el.setAttribute(ATTR, el.value ? "" : EMPTY);
  };
  // "UID" and the number may also sit in two elements (<dt>UID</dt><dd>10000001</dd>).
  const UID_LABEL = /^UID\s*:?$/i;
  const afterUid = (el) => {
    const label = el && el.previousElementSibling;
    return !!label && UID_LABEL.test((label.textContent || "").trim());
  };
  const text = (node) => {
    if (hit(node.data) || (/^\s*\d{5,}\s*$/.test(node.data) && afterUid(node.parentElement))) {
      mark(node.parentElement);
    }
  };
  const tree = (root) => {
    if (root.nodeType === 3) { text(root); return; }
    if (root.nodeType !== 1 && root.nodeType !== 9 && root.nodeType !== 11) return;
    if (root.matches && root.matches("input, textarea")) control(root);
    if (!root.querySelectorAll) return;
    root.querySelectorAll("input, textarea").forEach(control);
    root.querySelectorAll("label").forEach((l) => { if (l.control) control(l.control); });
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) text(n);
  };

  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  const adopt = () => {
    if (!document.adoptedStyleSheets.includes(sheet)) {
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
  };
  adopt();
  // Trace snapshots copy <style> elements but may not copy adopted sheets: one of each.
  const style = document.createElement("style");
  style.textContent = CSS;
  const place = () => {
    if (!style.isConnected && document.documentElement) document.documentElement.append(style);
  };
  place();

  new MutationObserver((records) => {
    place();
    for (const r of records) {
      if (r.type === "characterData") text(r.target);
      else if (r.type === "attributes") {
        if (r.target.matches && r.target.matches("input, textarea")) control(r.target);
      } else r.addedNodes.forEach(tree);
    }
  }).observe(document, {
    subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["value", "aria-label", "aria-labelledby", "placeholder"],
  });
  // A value set by a script or typed changes no attribute: look at it as it is set, in the
  // same task, so the frame that shows it is already blurred.
  for (const proto of [HTMLInputElement.prototype, HTMLTextAreaElement.prototype]) {
    const desc = Object.getOwnPropertyDescriptor(proto, "value");
    if (!desc || !desc.set) continue;
    Object.defineProperty(proto, "value", {
      ...desc,
      set(v) { desc.set.call(this, v); control(this); },
    });
  }
  document.addEventListener("input", (e) => {
    if (e.target && e.target.matches && e.target.matches("input, textarea")) control(e.target);
  }, true);
  Object.defineProperty(window, KEY, {
    value: {
      update(more) {
        texts = [...new Set([...texts, ...more])];
        adopt();
        place();
        if (document.documentElement) tree(document);
      },
    },
    enumerable: false,
  });
  if (document.documentElement) tree(document);
}
"""


def blur_config(labels: Sequence[str], texts: Iterable[str]) -> dict[str, Any]:
    return {"labels": list(labels), "texts": sorted({t for t in texts if t})}


def blur_script(labels: Sequence[str], texts: Iterable[str] = ()) -> str:
    """The init script: runs in every document of the context before the page's own scripts."""
    return f"({_FUNCTION})({json.dumps(blur_config(labels, texts))});"


def install_blur(page: Any, labels: Sequence[str], texts: Iterable[str] = ()) -> None:
    """Blur from the next document on (init script) and in the current one (evaluate)."""
    page.context.add_init_script(script=blur_script(labels, texts))
    apply_blur(page, labels, texts)


def apply_blur(page: Any, labels: Sequence[str], texts: Iterable[str] = ()) -> None:
    """Mark the current document again, with more texts (a key that has just been shown).

    Later documents learn the texts from a new init script, added by `install_blur`.
    """
    page.evaluate(_FUNCTION, blur_config(labels, texts))


@dataclass
class KeepBlurred:
    """A step hook: when a step brings a new text to hide (a key just created), the current
    document and every later one blur it too, before the next step paints anything."""

    page: Callable[[Any], Any]  # ctx -> Page
    labels: Sequence[str]
    texts: Callable[[Any], list[str]]  # ctx -> texts to hide now
    known: set[str] = field(default_factory=set)

    def install(self, page: Any, texts: Iterable[str]) -> None:
        self.known |= {t for t in texts if t}
        install_blur(page, self.labels, self.known)

    def before_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        return None

    def after_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        texts = {t for t in self.texts(ctx) if t}
        page = self.page(ctx)
        if texts - self.known and page is not None and not page.is_closed():
            with tracing_group(page.context.tracing, "Recorder: blur new texts in the page"):
                self.install(page, texts)

    def on_failure(self, index: int, step: Step[Any], ctx: Any, error: BaseException) -> None:
        return None
