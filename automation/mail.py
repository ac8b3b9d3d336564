"""The email verification code: read from an IMAP mailbox (imapclient) when the site sends it.

The classic failure of this kind of automation is typing an *old* code: an earlier verification
mail still sits in the inbox. So the caller calls :meth:`Inbox.mark` right before pressing "Send",
and only mail that arrives after that counts:

* its UID is at least the folder's UIDNEXT at mark time (the main guard: UIDs only grow);
* its INTERNALDATE is not older than the mark time minus a clock-skew allowance (second guard;
  IMAP SEARCH SINCE knows only dates, so the server narrows by day and we filter by time);
* its sender address (never the display name) matches a glob pattern, case-insensitively;
* it is for this account (mailparse.addressed_to): when several accounts read one mailbox,
  each takes only the mail addressed to it.

Among those the newest message (highest UID) holding a code not handed out yet wins: a later
call, after HTX refused that code, gets a newer mail if one came, else an older unused one.
New mail is noticed through IDLE when the server offers it, else by polling.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from automation.errors import MailError, MailTimeout
from automation.mail_connect import SelectError, clean, connect, idle_news, take_news
from automation.mail_settings import MailSettings, check_settings
from automation.mailparse import (
    RECIPIENT_HEADERS,
    Recipient,
    addressed_to,
    extract_code,
    is_ours,
    sender_matches,
    sender_of,
)
from automation.redaction import REDACTOR

# With UIDs unusable (UIDVALIDITY changed), only the date tells old mail from new: a little
# slack for a server clock behind ours. A stale code that slips through is refused by HTX and
# the flow then waits for the next mail.
DATE_ONLY_SKEW = 5.0
SKEW_ALLOWANCE = 120.0  # seconds a server clock may lag ours before a new mail looks stale
PROGRESS_EVERY = 5.0
MAX_MESSAGE_BYTES = 2_000_000  # a verification mail is a few kB; never download a huge foreign one
_MAX_RECONNECTS = 5


@dataclass(frozen=True)
class _Mark:
    uidnext: int
    uidvalidity: int | None
    time: float


class Inbox:
    """An IMAP connection that waits for the verification mail sent after :meth:`mark`."""

    def __init__(
        self,
        settings: MailSettings,
        *,
        on_progress: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_settings(settings)
        self.settings = settings
        self._on_progress = on_progress
        self._clock = clock
        self._client: IMAPClient | None = None
        self._uidvalidity: int | None = None
        self._mark: _Mark | None = None
        # Why each message after the mark was passed over (or "used": its code was handed
        # out), so each is downloaded at most once and a timeout can say what it saw. Keyed
        # by (UIDVALIDITY, UID).
        self._verdicts: dict[tuple[int | None, int], str] = {}
        self._handed_out: set[str] = set()  # codes returned since the mark: never twice
        self._next_report = 0.0
        self._idling = False  # in IDLE since mark(): new mail is announced the moment it lands
        self._early: str | None = None  # a code poll() found before wait_for_code() asked
        self.code_at: float | None = None  # time.monotonic() when the last code was found
        self._connecting: threading.Thread | None = None
        self._connected: IMAPClient | BaseException | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.effective_port}"

    def __enter__(self) -> Inbox:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def open(self) -> None:
        if self._connecting is not None:
            self._connecting.join()
            self._connecting, connected, self._connected = None, self._connected, None
            if isinstance(connected, BaseException):
                raise connected
            self._client = connected
        if self._client is None:
            self._client = self._connect()

    def connect_in_background(self) -> None:
        """Start connecting (TLS, login, select) while the caller starts other things (the
        browser); open(), or anything that needs the connection, waits for it and raises
        what it raised."""
        if self._client is not None or self._connecting is not None:
            return

        def connect() -> None:
            try:
                self._connected = self._connect()
            except BaseException as exc:  # handed to open(), in the caller's thread
                self._connected = exc

        self._connecting = threading.Thread(target=connect, name="imap-connect", daemon=True)
        self._connecting.start()

    def close(self) -> None:
        if self._connecting is not None:
            with contextlib.suppress(Exception):
                self.open()
        with contextlib.suppress(Exception):  # a dropped connection must not hide the error
            self._stop_idle()  # that brought the run here (pymap's idle_done() then raises)
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.socket().settimeout(5.0)  # a vanished server must not stall the exit
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()

    def mark(self) -> None:
        """Remember where the folder ends now: call right BEFORE pressing "Send"."""
        self._early = None
        for attempt in (1, 2):
            try:
                self.open()
                self._stop_idle()
                assert self._client is not None
                # Re-select: the UIDNEXT seen by open() is stale if mail arrived since.
                uidnext = self._select(self._client).get(b"UIDNEXT")
                if not isinstance(uidnext, int):  # servers SHOULD send it; else highest UID + 1
                    uidnext = max(self._client.search(["ALL"]), default=0) + 1
                self._mark = _Mark(uidnext, self._uidvalidity, self._clock())
                self._verdicts.clear()
                self._handed_out.clear()
                # Listen from here on: the mail is announced the moment it lands (poll()).
                if self._client.has_capability("IDLE"):
                    self._client.idle()
                    self._idling = True
                return
            except (IMAPClientError, OSError) as exc:
                self._drop()  # the idle connection may have been closed by the server
                if attempt == 2:
                    raise MailError(f"IMAP server {self.where} failed: {self._clean(exc)}") from exc

    @property
    def listening(self) -> bool:
        """In IDLE since mark(), or holding the code already: poll() can tell."""
        return self._idling or self._early is not None

    def poll(self, seconds: float) -> bool:
        """Whether a code is in hand, listening up to `seconds` for the mail (in IDLE since
        mark()): a caller waiting for the page after Send learns of the mail the moment it
        lands, and wait_for_code() then returns its code at once. False also when the
        server has no IDLE or the connection failed: wait_for_code() deals with those."""
        if self._early is not None:
            return True
        if not self._idling or self._client is None or self._mark is None:
            return False
        try:
            if not idle_news(self._client, seconds):
                return False
            self._stop_idle()
            code = self._search()
            if code is None:  # not ours, or no code: listen on
                self._client.idle()
                self._idling = True
                return False
        except (IMAPClientError, OSError):
            self._drop()  # wait_for_code() connects again; the mark holds
            self._report("mail connection interrupted; reconnecting…")
            return False
        REDACTOR.add(code, label="email code")
        self._early, self.code_at = code, time.monotonic()
        return True

    def wait_for_code(self, timeout: float = 120.0) -> str:
        """Block until a matching mail that arrived after mark() holds a code; return it.

        Each code once: called again (HTX refused the last one), it returns the newest other
        code, from a newer mail or an older one passed over before, or waits for new mail."""
        if self._mark is None:
            raise RuntimeError("Inbox.mark() must be called before pressing Send")
        if self._early is not None:
            early, self._early = self._early, None
            return early
        start = time.monotonic()
        deadline, self._next_report = start + timeout, start + PROGRESS_EVERY
        failures = 0
        while True:
            try:
                self.open()
                self._stop_idle()
                code = self._search()
                failures = 0
                if code is not None:
                    # A code is a secret like any other: Playwright records the value filled in.
                    REDACTOR.add(code, label="email code")
                    self.code_at = time.monotonic()
                    return code
                if time.monotonic() >= deadline:
                    break
                self._wait_for_news(deadline, start)
            except (IMAPClientError, OSError) as exc:
                # pymap sometimes makes idle_done() raise IMAP4.abort; servers drop idle
                # connections. A new connection and a new search lose nothing: the mark holds.
                self._drop()
                failures += 1
                if failures > _MAX_RECONNECTS or time.monotonic() >= deadline:
                    raise MailError(
                        f"Lost the connection to {self.where} while waiting for the "
                        f"verification email: {self._clean(exc)}"
                    ) from exc
                self._report("mail connection interrupted; reconnecting…")
        raise MailTimeout(
            f"No verification email from {', '.join(self.settings.senders)} arrived in "
            f"{timeout:g} s (mailbox {self.settings.user}@{self.settings.host})",
            hint=self._timeout_hint(),
        )

    # -- internals -----------------------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        return connect(self.settings, self.where, self._select)

    def _clean(self, exc: BaseException) -> str:
        return clean(self.settings, exc)

    def _select(self, client: IMAPClient) -> dict[bytes, object]:
        try:
            info: dict[bytes, object] = client.select_folder(self.settings.folder, readonly=True)
        except IMAPClientError as exc:
            if isinstance(exc, IMAPClient.AbortError):
                raise
            raise SelectError(str(exc)) from exc
        validity = info.get(b"UIDVALIDITY")
        self._uidvalidity = validity if isinstance(validity, int) else None
        return info

    def _stop_idle(self) -> None:
        """Leave IDLE (what the server said meanwhile is looked at by the next search)."""
        if self._idling and self._client is not None:
            self._idling = False
            self._client.idle_done()
        self._idling = False

    def _drop(self) -> None:
        self._idling = False
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _search(self) -> str | None:
        client, mark = self._client, self._mark
        assert client is not None and mark is not None
        take_news(client)  # what is announced from here on is looked at by this search
        # A new UIDVALIDITY makes old UIDs meaningless: fall back to the date alone, strictly
        # after the mark, less a few seconds for INTERNALDATE's whole seconds and a server clock
        # slightly behind ours.
        uids_valid = mark.uidvalidity is None or mark.uidvalidity == self._uidvalidity
        oldest = mark.time - (SKEW_ALLOWANCE if uids_valid else DATE_ONLY_SKEW)
        # SINCE compares dates in the server's zone, which we do not know: go back a day more.
        since = dt.datetime.fromtimestamp(oldest, dt.UTC).date() - dt.timedelta(days=1)
        criteria: list[object] = ["SINCE", since]
        if uids_valid:
            criteria = ["UID", f"{mark.uidnext}:*", *criteria]
        # "n:*" also matches the last message when n is past the end: filter again here.
        found = [u for u in client.search(criteria) if not uids_valid or u >= mark.uidnext]
        fresh = [u for u in found if (self._uidvalidity, u) not in self._verdicts]
        headers = " ".join(("FROM", *RECIPIENT_HEADERS)).upper()
        fields = ["INTERNALDATE", "RFC822.SIZE", f"BODY.PEEK[HEADER.FIELDS ({headers})]"]
        candidates = []
        meta = client.fetch(fresh, fields) if fresh else {}
        for uid in fresh:
            # Only what we asked for: imapclient files an unsolicited "* n FETCH (FLAGS ..)"
            # under the sequence number n, which would pass for UID n.
            data = meta.get(uid) or {}
            if b"INTERNALDATE" not in data:
                continue  # not answered this time; looked at again on the next search
            header = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
            head = email.message_from_bytes(header or b"")
            arrived = data.get(b"INTERNALDATE")
            when = arrived.timestamp() if isinstance(arrived, dt.datetime) else None
            if not sender_matches(sender_of(head), self.settings.senders):
                self._verdicts[(self._uidvalidity, uid)] = "foreign"
            elif when is None or when < oldest:
                self._verdicts[(self._uidvalidity, uid)] = "stale"
            elif int(data.get(b"RFC822.SIZE") or 0) > MAX_MESSAGE_BYTES:
                self._verdicts[(self._uidvalidity, uid)] = "no_code"
            elif self._whose(head) == "theirs":  # another account's: not even downloaded
                self._verdicts[(self._uidvalidity, uid)] = "theirs"
            else:
                candidates.append(uid)
        for uid in sorted(candidates, reverse=True):  # newest first
            body = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            if not isinstance(body, bytes):
                return None  # never fall back to an older code past an unread newer mail
            msg = email.message_from_bytes(body)
            verdict = self._whose(msg)
            code = extract_code(msg, self.settings.code_pattern)
            key = (self._uidvalidity, uid)
            if not is_ours(verdict, self.settings.other_addresses):
                self._verdicts[key] = "theirs" if verdict == "theirs" else "unsure"
            elif code is None:
                self._verdicts[key] = "no_code"
            else:
                self._verdicts[key] = "used"  # handed out once: a later call takes another
                if code not in self._handed_out:  # a duplicate of a refused code is no better
                    self._handed_out.add(code)
                    return code
        if take_news(client):
            # Mail announced while we searched is not announced again by IDLE: look now.
            return self._search()
        return None

    def _whose(self, msg: email.message.Message) -> Recipient:
        s = self.settings
        return addressed_to(msg, s.account_address, s.other_addresses)

    def _wait_for_news(self, deadline: float, start: float) -> None:
        client = self._client
        assert client is not None
        poll = self.settings.poll_interval
        if client.has_capability("IDLE"):
            # Re-search after any server response, and at least every 5 polls in case a
            # server's IDLE misses a delivery.
            end = min(deadline, time.monotonic() + poll * 5)
            client.idle()
            self._idling = True
            while (left := end - time.monotonic()) > 0:
                news = idle_news(client, min(1.0, left))
                self._tick(start)
                if news:
                    break
            self._stop_idle()
        else:
            end = min(deadline, time.monotonic() + poll)
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(1.0, left))
                self._tick(start)
            client.noop()  # lets the server report new mail before the next SEARCH

    def _tick(self, start: float) -> None:
        now = time.monotonic()
        if now >= self._next_report:
            self._next_report = now + PROGRESS_EVERY
            self._report(f"waiting for the verification email ({now - start:.0f} s)…")

    def _report(self, text: str) -> None:
        if self._on_progress is not None:
            self._on_progress(text)

    def _timeout_hint(self) -> str:
        seen = Counter(self._verdicts.values())
        notes = [
            f"{seen[key]} {text}"
            for key, text in (
                ("foreign", "new message(s) from other senders were ignored"),
                ("theirs", "message(s) addressed to another account were ignored"),
                ("unsure", "message(s) that may be another account's were ignored"),
                ("no_code", "matching message(s) held no code"),
                ("used", "code(s) already tried"),
                ("stale", "message(s) dated before the request were ignored"),
            )
            if seen[key]
        ]
        notes.append("check the spam folder and that the account's email is this mailbox")
        return "; ".join(notes)
