"""`provision --accounts a,b,c` / `--all-accounts`: one key for each of several accounts, in
one browser, at once.

Every account is checked first, in this thread and before any browser starts (its settings,
secrets, store, mailbox settings: app/preflight.py); an account that fails there is reported
failed and the others go on. Then one Chromium is launched behind a Playwright server
(automation/browser_server.py), or the remote endpoints given are used, and `jobs` worker
threads take the accounts in turn. Playwright's API is not thread-safe, so each account's run
starts a Playwright instance of its own in its worker thread and connects to the shared browser,
where it opens its own context: one account's waits (the mail, the next GA window) overlap the
others' work. Each run is the single-account `provision` (app/provisioning.py): the key is
stored or rescued the moment it is read, whatever happens to the other accounts.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from automation.browser import BrowserChoice, choose_browser, thread_playwright
from automation.errors import ConfigError, HtxKeysError, InputError, Interrupted, VerifyError
from automation.runner import Reporter
from flows.htx.limits import check_request
from htx_keys.app.output import Made
from htx_keys.app.preflight import Prepared, prepare
from htx_keys.app.web_options import DEFAULT_JOBS, WebOptions
from htx_keys.app.web_run import Ask, SecretPrompt, WebRun, no_prompt, run_secret_names


@dataclass(frozen=True)
class KeyAsk:
    """What every account's key is made with: the flags of `provision` (an account's file
    entries give permissions and IPs when the flags do not)."""

    note: str
    permissions: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    allow_withdraw: bool = False
    verify: bool = True
    until: dt.datetime | None = None  # --ttl: the end of every key's lease


@dataclass
class Outcome:
    """One account's result: the key made, or why not (a key made but not verified has both)."""

    account: str
    made: Made | None = None
    error: HtxKeysError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def exit_status(self) -> int:
        return 0 if self.error is None else int(self.error.exit_status)


@dataclass
class Planned:
    account: str
    run: WebRun
    prep: Prepared


class PrefixReporter(Reporter):
    """Progress lines of one account among several: each starts with the account's name."""

    # One lock for all accounts: two accounts' lines never interleave.
    _lock = threading.Lock()

    def __init__(self, account: str, *, quiet: bool) -> None:
        super().__init__(quiet=quiet)
        self.prefix = f"[{account}] "

    def _write(self, text: str) -> None:
        lines = text.splitlines() or [""]
        with PrefixReporter._lock:
            super()._write("\n".join(self.prefix + line for line in lines))


def account_names(accounts_file: Path, names: list[str], all_accounts: bool) -> list[str]:
    """The accounts to provision, in the order given (or the file's order), each known."""
    from automation.accounts import read_accounts, unknown_account

    known = read_accounts(accounts_file)
    if all_accounts:
        if not known:
            raise ConfigError(
                f"--all-accounts: {accounts_file} holds no accounts"
                if accounts_file.exists()
                else f"--all-accounts: {accounts_file} does not exist"
            )
        return list(known)
    if not names:
        raise InputError("--accounts needs at least one account name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"--accounts names '{name}' twice")
        seen.add(name)
        if name not in known:
            raise InputError(f"--accounts: {unknown_account(name, accounts_file, known)}")
    return names


def split_names(values: tuple[str, ...]) -> list[str]:
    """--accounts a,b --accounts c: the names, in order."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def remote_choices(web: WebOptions) -> list[BrowserChoice]:
    """The remote browsers given by --ws-endpoint / --cdp-endpoint (each checked as a single
    endpoint is: scheme, and plain text only to this machine); [] for a local browser."""
    ws, cdp = web.ws_endpoints, web.cdp_endpoints
    if ws and cdp:
        raise InputError("Give --cdp-endpoint or --ws-endpoint, not both")
    choices = []
    for endpoint in ws or cdp:
        one = replace(
            web, ws_endpoint=endpoint if ws else None, cdp_endpoint=endpoint if cdp else None
        )
        settings = one.settings()  # the transport check, as for one account
        choices.append(
            choose_browser(cdp_endpoint=settings.cdp_endpoint, ws_endpoint=settings.ws_endpoint)
        )
    return choices


def plan(
    web: WebOptions,
    names: list[str],
    key: KeyAsk,
    *,
    quiet: bool,
    remote: list[BrowserChoice],
    ask: Ask | None = None,
    ask_secrets: SecretPrompt = no_prompt,
) -> tuple[list[Planned], list[Outcome]]:
    """Every check that needs no browser, account by account, in this thread (hidden prompts
    come one after another). A flag's mistake stops everything (it is every account's);
    an account's own (a missing secret, a bad setting) fails only that account."""
    ready: list[Planned] = []
    failed: list[Outcome] = []
    first = remote[0] if remote else None
    for name in names:
        one = replace(
            web,
            account=name,
            ws_endpoint=first.ws_endpoint if first else web.ws_endpoint,
            cdp_endpoint=first.cdp_endpoint if first else web.cdp_endpoint,
        )
        own_defaults = False  # the account's default permissions or IPs are in the request
        try:
            run = WebRun.from_options(
                one,
                quiet=quiet,
                verify=key.verify,
                ask=_naming(ask, name),
                ask_secrets=ask_secrets,
            )
            run.reporter = PrefixReporter(name, quiet=quiet)
            settings = run.settings
            own_defaults = bool(
                (not key.permissions and settings.default_permissions)
                or (not key.ips and settings.default_ips)
            )
            request = check_request(
                key.note,
                key.permissions or settings.default_permissions or ("read",),
                key.ips or settings.default_ips,
                allow_withdraw=key.allow_withdraw,
                tag=settings.note_tag,
                until=key.until,
            )
            run.ask_for(*run_secret_names(run.session, run.settings))
            prep = prepare(run.settings, request, run.store, run.options)
        except InputError as exc:
            if not own_defaults:
                raise  # the flags' mistake: every account's
            failed.append(Outcome(name, error=exc))  # its own default IPs or permissions
            continue
        except HtxKeysError as exc:
            failed.append(Outcome(name, error=exc))
            continue
        ready.append(Planned(name, run, prep))
    return ready, failed


def run_planned(
    ready: list[Planned],
    jobs: int,
    remote: list[BrowserChoice],
    *,
    headed: bool = False,
) -> tuple[list[Outcome], bool]:
    """Provision the planned accounts, `jobs` at a time; (outcomes, interrupted).

    Ctrl-C, SIGTERM or a hang-up: no further account starts; a local shared browser is
    closed, which ends the running accounts' flows with their own error (a key already read
    is stored or rescued by then); with remote browsers the running accounts finish."""
    if not ready:
        return [], False
    stop = threading.Event()
    problems: list[str] = []
    with ExitStack() as stack:
        if remote:
            choices = remote
            server = None
        else:
            from automation.browser_server import BrowserServer

            local = ready[0].prep.browser
            server = stack.enter_context(BrowserServer(local, headed=headed))
            shared = f"{local.description}, one browser for {len(ready)} accounts"
            choices = [BrowserChoice(None, shared, ws_endpoint=server.endpoint)]
        work: queue.SimpleQueue[int] = queue.SimpleQueue()
        for n in range(len(ready)):
            work.put(n)
        results: list[Outcome | None] = [None] * len(ready)

        def worker() -> None:
            with thread_playwright():  # one Playwright (driver) per worker thread
                while True:
                    try:
                        n = work.get_nowait()
                    except queue.Empty:
                        return
                    results[n] = _guarded(ready[n], choices[n % len(choices)], stop)

        threads = [
            # Not daemons: the process never ends under a worker holding a key it has read.
            threading.Thread(target=_logged(worker, problems), name=f"account-{n}")
            for n in range(min(jobs, len(ready)))
        ]
        for thread in threads:
            thread.start()
        interrupted = False
        try:
            _join(threads)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            if server is not None:
                server.stop()
            _join_through_interrupts(threads, quiet=ready[0].run.reporter.quiet)
    outcomes = []
    for item, result in zip(ready, results, strict=True):
        if result is None:  # its worker could not start Playwright
            why = problems[0] if problems else "its worker ended first"
            result = Outcome(item.account, error=HtxKeysError(f"not run: {why}"))
        outcomes.append(result)
    return outcomes, interrupted


def _join(threads: list[threading.Thread]) -> None:
    """Wait for the workers; short joins, so Ctrl-C reaches this thread at once."""
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)


def _join_through_interrupts(threads: list[threading.Thread], *, quiet: bool) -> None:
    """After the first interrupt: wait for the running accounts whatever comes next, since
    a key one of them has read is stored or rescued only when its run ends (said on each
    further interrupt, unless --quiet)."""
    while True:
        try:
            _join(threads)
            return
        except KeyboardInterrupt:
            running = sum(thread.is_alive() for thread in threads)
            Reporter(quiet=quiet).info(
                f"still ending {running} account run(s): a key already read is stored or "
                "revoked first"
            )


def _logged(worker: Callable[[], None], problems: list[str]) -> Callable[[], None]:
    """A worker whose own failure (Playwright's driver would not start) is kept for the
    report of the accounts it left."""

    def run() -> None:
        try:
            worker()
        except Exception as exc:
            problems.append(_unexpected(exc).message)

    return run


def _guarded(item: Planned, choice: BrowserChoice, stop: threading.Event) -> Outcome:
    try:
        return provision_planned(item, choice, stop)
    except Exception as exc:
        return Outcome(item.account, error=_unexpected(exc))


def _unexpected(exc: Exception) -> HtxKeysError:
    if isinstance(exc, HtxKeysError):
        return exc
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return HtxKeysError(f"unexpected {type(exc).__name__}: {detail}")


def provision_planned(item: Planned, choice: BrowserChoice, stop: threading.Event) -> Outcome:
    """One account's run, in a worker thread: its own Playwright, its own context."""
    from htx_keys.app.provisioning import provision

    if stop.is_set():
        return Outcome(item.account, error=Interrupted("not started: the run was interrupted"))
    reporter = item.run.reporter
    try:
        result = provision(replace(item.prep, browser=choice), item.run.options, reporter)
    except Exception as exc:
        error = _stopped(exc) if stop.is_set() else exc
        if not isinstance(error, HtxKeysError):
            raise
        reporter.info(f"failed (exit {int(error.exit_status)}): {error.message}")
        if error.hint:
            reporter.info(f"hint: {error.hint}")
        return Outcome(item.account, error=error)
    waited = f" ({reporter.waited:.0f} s of it waiting on HTX's timers)" if reporter.waited else ""
    reporter.info(f"done in {result.run.seconds:.1f} s{waited}")
    made = Made(result.record, result.stored_in, result.verification)
    verification = result.verification
    if verification is not None and verification.status == "failed":
        error = VerifyError(
            f"Key {result.record.access_key} was created and stored in {result.stored_in}, "
            f"but it does not check out: {verification.reason}"
        )
        return Outcome(item.account, made, error)
    return Outcome(item.account, made)


def _stopped(exc: Exception) -> Interrupted:
    """A run ended by the interrupt (its browser closed under it): said so, with what it hit."""
    text = exc.message if isinstance(exc, HtxKeysError) else str(exc)
    detail = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    hint = exc.hint if isinstance(exc, HtxKeysError) else None  # a rescue file, say
    return Interrupted(f"stopped by the interrupt: {detail}", hint=hint)


def provision_accounts(
    web: WebOptions,
    names: list[str],
    key: KeyAsk,
    *,
    jobs: int = DEFAULT_JOBS,
    quiet: bool = False,
    ask: Callable[[str], str | None] | None = None,
    ask_secrets: SecretPrompt = no_prompt,
) -> tuple[list[Outcome], bool]:
    """Plan every account, then run those that passed; outcomes in the order of `names`."""
    remote = remote_choices(web)
    locked = _locked(ask) if ask is not None else None
    ready, failed = plan(
        web, names, key, quiet=quiet, remote=remote, ask=locked, ask_secrets=ask_secrets
    )
    for outcome in failed:
        assert outcome.error is not None
        Reporter(quiet=quiet).info(f"[{outcome.account}] not started: {outcome.error.message}")
    done, interrupted = run_planned(ready, jobs, remote, headed=web.headed)
    by_name = {o.account: o for o in [*failed, *done]}
    return [by_name[name] for name in names], interrupted


def _naming(ask: Ask | None, account: str) -> Ask | None:
    """Questions for a person (captchas, SMS codes) name the account they are for."""
    if ask is None:
        return None
    return lambda question: ask(f"[{account}] {question}")


def _locked(ask: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """A person is asked one question at a time, whichever account asks."""
    lock = threading.Lock()

    def one_at_a_time(question: str) -> str | None:
        with lock:
            return ask(question)

    return one_at_a_time
