"""The "obscure" markup variant: the same pages, the accessibility shortcuts taken away.

The live site is built by a framework whose markup the tool does not control: inputs with a
placeholder and no label tied to them, clickable elements that are not buttons, class names
hashed by the build. `obscure_html` turns a page rendered for the plain variant into that:

* every `<label for=ID>TEXT</label>` becomes a `<div>` and the input with that id gets TEXT as its
  placeholder unless it has one; labels wrapped around a checkbox become `<span>`s;
* `aria-labelledby` goes everywhere (dialogs, the table, forms and groups lose their names);
* submit buttons become `<div role="button" data-submit>` (app.js submits their form);
* every class name is hashed (`class_hash`, the same function as `HTX.cls` in app.js), and the
  stylesheet is served with its selectors hashed alike (`obscure_css`).
"""

from __future__ import annotations

import re

MARKUPS = ("plain", "obscure")

_LABEL_FOR = re.compile(r'<label([^>]*?)\sfor="([^"]+)"([^>]*)>(.*?)</label>', re.S)
_WRAPPING_LABEL = re.compile(r"<label([^>]*)>(\s*<input[^>]*>)\s*([^<]*?)\s*</label>", re.S)
_SUBMIT = re.compile(r'<button([^>]*?)\stype="submit"([^>]*)>(.*?)</button>', re.S)
_LABELLEDBY = re.compile(r'\saria-labelledby="[^"]*"')
_CLASS = re.compile(r'\sclass="([^"]*)"')
_CSS_CLASS = re.compile(r"(?<![\w-])\.([A-Za-z_][\w-]*)")


def class_hash(name: str) -> str:
    """FNV-1a (32 bit) of the name, in base 36: as a bundler's CSS modules would."""
    value = 0x811C9DC5
    for ch in "htx:" + name:
        value = ((value ^ ord(ch)) * 0x01000193) & 0xFFFFFFFF
    digits = ""
    while True:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not value:
            return "c" + digits


def _hash_classes(match: re.Match[str]) -> str:
    names = " ".join(class_hash(n) for n in match.group(1).split())
    return f' class="{names}"'


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _add_placeholder(html: str, ident: str, text: str) -> str:
    """The input or textarea with id `ident` gets `text` as placeholder unless it has one."""
    tag = re.compile(rf'<(input|textarea)([^>]*?\sid="{re.escape(ident)}")([^>]*)>', re.S)

    def add(match: re.Match[str]) -> str:
        if "placeholder=" in match.group(0):
            return match.group(0)
        return f'<{match.group(1)}{match.group(2)} placeholder="{text}"{match.group(3)}>'

    return tag.sub(add, html)


def obscure_html(html: str) -> str:
    placeholders: dict[str, str] = {}

    def unlabel(match: re.Match[str]) -> str:
        placeholders[match.group(2)] = _text(match.group(4))
        return f"<div{match.group(1)}{match.group(3)}>{match.group(4)}</div>"

    html = _LABEL_FOR.sub(unlabel, html)
    for ident, text in placeholders.items():
        html = _add_placeholder(html, ident, text)
    html = _WRAPPING_LABEL.sub(r"<span\1>\2<span>\3</span></span>", html)
    html = _LABELLEDBY.sub("", html).replace(' role="group"', "")
    html = _SUBMIT.sub(r'<div role="button" tabindex="0" data-submit\1\2>\3</div>', html)
    return _CLASS.sub(_hash_classes, html)


def obscure_css(css: str) -> str:
    return _CSS_CLASS.sub(lambda m: "." + class_hash(m.group(1)), css)
