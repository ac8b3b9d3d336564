"""The page objects on markup harder than the replica's: the key table read in one call to
the page agrees with Playwright's own reading (get_by_role("row") / get_by_role("cell") /
all_inner_texts, row by row), and Send SMS code is followed by a wait for HTX's answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Page

from automation.errors import RejectedError, SiteError
from flows.htx.pages import ApiManagementPage, SecurityDialog
from flows.htx.security import wait_sms_sent

pytestmark = [pytest.mark.e2e, pytest.mark.cost(3)]

# Header cells, a hidden measuring row (as Ant Design's tables have), a cell hidden by style, a
# table nested in a cell, a cell with visibility: hidden, rows and cells made of divs with roles,
# and text with inner whitespace and a line break.
TABLE = """
<h1>API Management</h1>
<table aria-label="API Keys">
  <thead><tr><th>Created</th><th>Note</th><th>Permissions</th><th>Access Key</th></tr></thead>
  <tbody>
    <tr aria-hidden="true" class="measure"><td></td><td></td><td></td><td></td></tr>
    <tr><td>2026-11-30</td><td>  bot  one </td><td>Read-only<br>Trade</td>
        <td>ak-1</td><td style="display:none">hidden</td><td>none</td><td>90</td>
        <td>Normal</td></tr>
    <tr><td>2026-11-29</td><td>two</td><td><table><tr><td>inner</td><td>cells</td></tr></table></td>
        <td>ak-2</td><td style="visibility:hidden">unseen</td><td>1.2.3.4</td><td>-</td>
        <td>Normal</td></tr>
    <tr><td colspan="8">Something went wrong</td></tr>
  </tbody>
</table>
<div role="table" aria-label="Other">
  <div role="row"><div role="cell">a</div><div role="cell">b</div></div>
</div>
"""

DIV_TABLE = """
<h1>API Management</h1>
<div role="table" aria-label="API Keys">
  <div role="row"><span role="columnheader">Created</span>
    <span role="columnheader">Note</span></div>
  <div role="row"><span role="cell">2026-11-30</span><span role="cell">n</span>
    <span role="cell">Trade</span><span role="cell">ak-3</span><span role="cell">none</span>
    <span role="cell">90</span><span role="cell">Normal</span></div>
</div>
"""


def playwright_reading(page: Page) -> list[list[str]]:
    table = ApiManagementPage(page).key_table
    return [
        [text.strip() for text in row.get_by_role("cell").all_inner_texts()]
        for row in table.get_by_role("row").all()
    ]


@pytest.mark.parametrize("markup", [TABLE, DIV_TABLE], ids=["html table", "div table"])
def test_the_key_table_read_in_one_call_matches_playwrights_reading(
    page: Page, markup: str
) -> None:
    page.set_content(markup)
    api = ApiManagementPage(page)
    assert api._cells() == playwright_reading(page)


def test_rows_are_the_data_rows_and_the_message_row_is_a_message(page: Page) -> None:
    flat = TABLE.replace("<td><table><tr><td>inner</td><td>cells</td></tr></table></td>", "<td/>")
    page.set_content(flat)
    api = ApiManagementPage(page)
    rows = api._look()[0]
    assert rows is not None
    assert [cells[3] for cells in rows] == ["ak-1", "ak-2"]
    assert rows[0][1] == "bot one" and rows[0][2] == "Read-only\nTrade"
    page.set_content(
        TABLE.replace("<tr><td>2026-11-30", "<tr hidden><td>2026-11-30").replace(
            "<tr><td>2026-11-29", "<tr hidden><td>2026-11-29"
        )
    )
    assert api._look()[1] == "Something went wrong"


# The Security Authentication dialog of an account with SMS; Send SMS code answers after a
# moment, as HTX's page does: a countdown on the button and the focus in the SMS box, or an
# error in the dialog.
SMS_DIALOG = """
<dialog open aria-label="Security Authentication">
  <label>Email verification code <input id="email"></label>
  <label>SMS verification code <input id="sms"></label>
  <button id="send-sms" aria-label="Send SMS code">Send</button>
  <div role="alert" id="alert"></div>
</dialog>
<script>
  document.getElementById("send-sms").addEventListener("click", (event) => {
    const button = event.target;
    button.disabled = true;
    setTimeout(() => {
      if (window.answer === "sent") {
        button.textContent = "Resend (59s)";
        document.getElementById("sms").focus();
      } else if (window.answer === "renamed") {  // no name of its own: the countdown is it
        button.removeAttribute("aria-label");
        button.textContent = "Resend (59s)";
        document.getElementById("sms").focus();
      } else if (window.answer === "refused") {
        button.disabled = false;
        document.getElementById("alert").textContent = "SMS sending failed";
      }
    }, 300);
  });
</script>
"""


@pytest.mark.parametrize("answer", ["sent", "renamed", "refused", "none"])
def test_send_sms_waits_for_the_countdown_or_says_the_error(page: Page, answer: str) -> None:
    page.set_content(SMS_DIALOG)
    page.evaluate("answer => { window.answer = answer; }", answer)
    dialog = SecurityDialog(page)
    ctx: Any = SimpleNamespace(timeout_ms=2_000, page=page)
    page.click("#send-sms")
    if answer in ("sent", "renamed"):
        wait_sms_sent(ctx, dialog)
        assert page.evaluate("document.activeElement.id") == "sms"  # typing may start now
    elif answer == "refused":
        with pytest.raises(RejectedError, match="HTX did not send the SMS code: SMS sending"):
            wait_sms_sent(ctx, dialog)
    else:
        with pytest.raises(SiteError, match="No answer within 2 s after Send SMS code"):
            wait_sms_sent(ctx, dialog)
