"""flows/htx/locators.py is data a later override file replaces: every name it uses resolves."""

from __future__ import annotations

import re
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from automation.errors import SiteError
from flows.htx import pages
from flows.htx.finding import describe, fill_in
from flows.htx.key_list import ExchangeKey
from flows.htx.locators import BY, ELEMENTS, KNOWN_OVERLAYS, TEXTS
from htx_keys.app import keys as keys_module
from htx_keys.app.lifecycle import Listing
from sandbox.markup import class_hash, obscure_css, obscure_html

FIELD = re.compile(r"\{([^{}]+)\}")
ARGS = {"perm": "trade", "access_key": "abc"}


@pytest.mark.parametrize("name", sorted(ELEMENTS))
def test_every_way_names_texts_and_elements_that_exist(name: str) -> None:
    assert ELEMENTS[name], name
    for way in ELEMENTS[name]:
        assert way.by in BY
        if way.text:
            assert fill_in(way.text, ARGS) in TEXTS, (name, way)
        for template in (way.css, way.has_text):
            assert not FIELD.search(fill_in(template, ARGS)), (name, way)
        for other in (way.within, way.has):
            assert not other or other in ELEMENTS, (name, way)
        assert describe(way, **ARGS)


def test_page_object_properties_each_have_an_element() -> None:
    for cls in (pages.LoginPage, pages.NewDeviceStep, pages.Header, pages.ApiManagementPage,
                pages.SecurityDialog, pages.CreatedDialog, pages.DeleteDialog):  # fmt: skip
        for attr, member in vars(cls).items():
            if isinstance(member, property):
                assert f"{cls.__name__}.{attr}" in ELEMENTS, f"{cls.__name__}.{attr}"
    for root, button in KNOWN_OVERLAYS.values():
        assert root in ELEMENTS and button in ELEMENTS


def test_fill_in_takes_arguments_then_texts() -> None:
    assert fill_in("T_PERMISSION[{perm}]", ARGS) == "T_PERMISSION[trade]"
    assert fill_in("x[.='{T_PERMISSION[{perm}]}']", ARGS) == "x[.='Trade']"
    assert fill_in("{T_KEY_TABLE}", {}) == "API Keys"


def test_obscure_markup_unties_labels_and_hashes_classes() -> None:
    html = (
        '<form aria-labelledby="t"><label class="row-label" for="note">Note</label>'
        '<input id="note" type="text"><label for="ips">IPs</label>'
        '<textarea id="ips" placeholder="e.g. 1.2.3.4"></textarea>'
        '<div role="group" aria-labelledby="p"><label class="check">'
        '<input type="checkbox" value="trade"> Trade</label></div>'
        '<button type="submit" class="btn btn-primary">Create</button></form>'
    )
    out = obscure_html(html)
    assert "<label" not in out and "aria-labelledby" not in out and 'role="group"' not in out
    assert '<input id="note" placeholder="Note" type="text">' in out
    assert 'placeholder="e.g. 1.2.3.4"' in out and 'placeholder="IPs"' not in out
    assert '<input type="checkbox" value="trade"><span>Trade</span>' in out
    assert f'<div role="button" tabindex="0" data-submit class="{class_hash("btn")} ' in out
    assert "btn-primary" not in out
    assert class_hash("btn") == class_hash("btn") != class_hash("btn-primary")
    assert obscure_css(".btn:hover, .a .b { width: 1.5px }") == (
        f".{class_hash('btn')}:hover, .{class_hash('a')} .{class_hash('b')} {{ width: 1.5px }}"
    )


def test_a_web_not_found_that_the_rest_list_contradicts_deletes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = ExchangeKey("ak-1", "bot [htx-keys]", ("read",), (), None, "normal", "")
    forgotten: list[str] = []
    monkeypatch.setattr(keys_module, "exchange_listing", lambda *a: Listing([key], "REST"))
    monkeypatch.setattr(keys_module, "forget", lambda store, ak: forgotten.append(ak))
    monkeypatch.setattr(keys_module, "held_records", lambda *a: [])

    @contextmanager
    def session(*_: Any) -> Any:
        yield SimpleNamespace(keys=lambda: [], delete=lambda ak: forgotten.append(ak))

    monkeypatch.setattr(keys_module, "web_session", session)
    store = SimpleNamespace(list=lambda: [], location="keys.json")
    run = SimpleNamespace(store=store, settings=None, reporter=None, options=None,
                          tag="htx-keys", prepare=lambda: None)  # fmt: skip
    with pytest.raises(SiteError) as caught:
        keys_module.revoke(run, "ak-1", None, False, None, None, print)  # type: ignore[arg-type]
    assert caught.value.message == (
        "HTX's API lists key ak-1 but the API Management page does not: nothing was deleted, "
        "here or on HTX"
    )
    assert forgotten == []
