"""A code command as a user would write one (HTX_KEYS_CODE_COMMAND), for the end-to-end tests.

Standard library only, and nothing from the tool: it reads what the tool tells it
(HTX_CODE_KIND, HTX_CODE_SENT_AT, HTX_CODE_ACCOUNT, HTX_CODE_ATTEMPT, HTX_CODE_TIMEOUT) and
prints the code of the newest message sent at or after HTX_CODE_SENT_AT:

- email: from the mailbox over IMAP with TLS (CODE_IMAP_HOST, CODE_IMAP_PORT, CODE_IMAP_USER,
  CODE_IMAP_PASSWORD, CODE_IMAP_CA_FILE: its own settings, as a forwarding service's token
  would be), mail from *@htx.com only;
- sms: from the replica's SMS outbox, GET CODE_SMS_URL?since=HTX_CODE_SENT_AT, as from an SMS
  gateway's API.

It waits for the message up to HTX_CODE_TIMEOUT seconds. CODE_LOG names a file where it
appends one JSON line per call (what it was told, never a code); CODE_FAIL=sms makes it fail
for SMS codes, as a gateway that is down would.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import imaplib
import json
import os
import re
import ssl
import sys
import time
import urllib.parse
import urllib.request

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
ACCOUNT_SECRETS = ("HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD")


def newest_mail_code(since: dt.datetime) -> str | None:
    context = ssl.create_default_context(cafile=os.environ["CODE_IMAP_CA_FILE"])
    port = int(os.environ["CODE_IMAP_PORT"])
    with imaplib.IMAP4_SSL(os.environ["CODE_IMAP_HOST"], port, ssl_context=context) as imap:
        imap.login(os.environ["CODE_IMAP_USER"], os.environ["CODE_IMAP_PASSWORD"])
        imap.select("INBOX", readonly=True)
        day = (since - dt.timedelta(days=1)).strftime("%d-%b-%Y")
        _, found = imap.search(None, "SINCE", day, "FROM", "htx.com")
        best: tuple[dt.datetime, str] | None = None
        for number in found[0].split():
            _, data = imap.fetch(number.decode(), "(INTERNALDATE BODY.PEEK[])")
            head, body = data[0] if isinstance(data[0], tuple) else (b"", b"")
            match = re.search(rb'INTERNALDATE "([^"]+)"', head)
            if not match:
                continue
            arrived = email.utils.parsedate_to_datetime(_rfc(match))
            if arrived < since:
                continue
            message = email.message_from_bytes(body, policy=email.policy.default)
            part = message.get_body(preferencelist=("plain",))
            text = part.get_content() if part is not None else ""
            code = CODE.search(text)
            if code and (best is None or arrived >= best[0]):
                best = (arrived, code.group(1))
        return best[1] if best else None


def _rfc(match: re.Match[bytes]) -> str:
    """INTERNALDATE ("01-Jan-2026 12:00:00 +0000") as an RFC 2822 date."""
    day, clock, zone = match.group(1).decode().split()
    d, m, y = day.split("-")
    return f"{d} {m} {y} {clock} {zone}"


def newest_sms_code(since_text: str) -> str | None:
    query = urllib.parse.urlencode({"since": since_text})
    with urllib.request.urlopen(f"{os.environ['CODE_SMS_URL']}?{query}", timeout=10) as answer:
        messages = json.load(answer)["messages"]
    for message in reversed(messages):  # oldest first: the newest is last
        code = CODE.search(message["text"])
        if code:
            return code.group(1)
    return None


def main() -> int:
    kind = os.environ["HTX_CODE_KIND"]
    sent_at = os.environ["HTX_CODE_SENT_AT"]
    log = os.environ.get("CODE_LOG")
    if log:
        told: dict[str, object] = {
            name: value for name, value in os.environ.items() if name.startswith("HTX_CODE_")
        }
        told["secrets_seen"] = [n for n in os.environ if n.startswith(ACCOUNT_SECRETS)]
        told["argv"] = sys.argv[1:]
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(told) + "\n")
    if os.environ.get("CODE_FAIL") == kind:
        print("the SMS gateway answered 503 Service Unavailable", file=sys.stderr)
        return 2
    since = dt.datetime.fromisoformat(sent_at)
    deadline = time.monotonic() + int(os.environ["HTX_CODE_TIMEOUT"])
    while time.monotonic() < deadline:
        code = newest_mail_code(since) if kind == "email" else newest_sms_code(sent_at)
        if code:
            print(code)
            return 0
        time.sleep(0.5)
    print(f"no {kind} code since {sent_at}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
