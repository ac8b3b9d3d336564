"""One browser session on HTX for several key operations: log in once, then read the key
list, create keys and delete keys, each with its own fresh codes.

`provision --count`, `keys list/revoke/rotate/reconcile` and `exec` work through this. Every
create runs the same steps as `provision` (flows/htx/provision.py KEY_STEPS) and every delete
the website's own Delete flow (flows/htx/revoke.py), so a key is stored the moment it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from automation.runner import Flow, Reporter, run_flow
from automation.session import register_state
from automation.store import KeyRecord, Store, short
from flows.htx.context import ProvisionContext, SiteContext
from flows.htx.key_list import ExchangeKey, from_row
from flows.htx.limits import KeyRequest
from flows.htx.login import LOGIN, LOGIN_STEPS
from flows.htx.pages import ApiManagementPage
from flows.htx.provision import KEY_STEPS
from flows.htx.revoke import REVOKE_STEPS, RevokeContext
from flows.htx.security import OPEN_API_MANAGEMENT
from htx_keys.app.audit import REVOKE, audit, failed, key_facts
from htx_keys.app.preflight import Prepared, RunOptions
from htx_keys.app.provisioning import site_context
from htx_keys.app.relogin import run_signed_in

SIGN_IN = Flow[SiteContext](
    name="keys",
    title="Sign in to HTX and open API Management",
    steps=(
        *LOGIN_STEPS,
        OPEN_API_MANAGEMENT,
    ),
)
CREATE = Flow[ProvisionContext](name="create", title="Create an API key", steps=KEY_STEPS)
DELETE = Flow[RevokeContext](name="delete", title="Delete an API key", steps=REVOKE_STEPS)

C = TypeVar("C", bound=SiteContext)


@dataclass
class WebSession:
    ctx: SiteContext
    prep: Prepared
    reporter: Reporter
    hooks: list[Any] = field(default_factory=list)
    tracing: Any = None
    on_key: Callable[[KeyRecord], None] | None = None
    created: list[KeyRecord] = field(default_factory=list)
    seen: dict[str, ExchangeKey] = field(default_factory=dict)  # the keys the table showed

    def keys(self) -> list[ExchangeKey]:
        """The key table, read once it has settled (rows, or its empty placeholder): a table
        still loading is a SiteError, never an empty list."""
        api = ApiManagementPage(self.ctx.page)
        found = [from_row(row) for row in api.rows(self.ctx.timeout_ms)]
        self.seen.update((k.access_key, k) for k in found)
        return found

    def create(self, request: KeyRequest, store: Store) -> tuple[KeyRecord, str]:
        """Create one key; it is stored (or rescued) before this returns or raises. Every key
        made is in `created` from the moment it was read."""

        def seen(record: KeyRecord) -> None:
            self.created.append(record)
            if self.on_key is not None:
                self.on_key(record)

        ctx = self._derive(
            ProvisionContext,
            request=request,
            store=store,
            rescue_dir=self.prep.settings.state_dir / "rescue",
            on_key=seen,
        )
        self._run(CREATE, ctx)
        assert ctx.record is not None and ctx.stored_in is not None
        return ctx.record, ctx.stored_in

    def delete(self, access_key: str, event: str | None = REVOKE) -> None:
        """Delete a key through the website; the audit log gets a line (`event`: revoke,
        reap) however it ends; None: the caller writes it (a rotation's one line)."""
        self.reporter.info(f"deleting key {short(access_key)} on HTX")
        ctx = self._derive(RevokeContext, access_key=access_key)
        facts = key_facts(self.seen.get(access_key), access_key)
        settings = self.prep.settings
        try:
            self._run(DELETE, ctx)
        except BaseException as exc:
            if event:
                audit(settings, event, facts, failed(exc), self.reporter)
            raise
        if event:
            audit(settings, event, facts, "deleted", self.reporter)

    def _run(self, flow: Flow[C], ctx: C) -> None:
        """One operation; if HTX ends the session midway, log in again and start it over."""
        run_signed_in(
            flow, ctx, reporter=self.reporter, hooks=self.hooks, tracing=self.tracing, login=LOGIN
        )

    def storage_state(self) -> dict[str, Any]:
        """The browser's login, to sign in again later without codes (kept in memory only);
        its tokens are registered as secrets like a saved session's."""
        state = dict(self.ctx.page.context.storage_state())
        register_state(state)
        return state

    def _derive(self, cls: type[C], **extra: Any) -> C:
        """A context for one operation that shares this session's page, codes and mailbox."""
        common = {f.name: getattr(self.ctx, f.name) for f in fields(SiteContext)}
        return cls(**common, **extra)


@contextmanager
def web_session(prep: Prepared, options: RunOptions, reporter: Reporter) -> Iterator[WebSession]:
    """Log in (or use the saved session) and open API Management; the session is renewed in
    its store if it had expired."""
    with site_context(prep, options, reporter, SIGN_IN) as (ctx, rec):
        hooks = [*options.hooks, *rec.hooks]
        run_flow(SIGN_IN, ctx, reporter=reporter, hooks=hooks, tracing=rec.tracing)
        if ctx.session_renewed and options.session is not None:
            options.session.save(dict(ctx.page.context.storage_state()))
            reporter.info(f"the saved session was renewed ({options.session.description})")
        yield WebSession(ctx, prep, reporter, hooks, rec.tracing, options.on_key)
