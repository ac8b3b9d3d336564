"""The site's refusal, shared by the state and the modules it is built from.

It lives apart from `sandbox/state.py` so that the parts the state is made of (codes, captcha,
logins) can raise it without importing the state; `sandbox.state.Refused` is this same class.
"""

from __future__ import annotations


class Refused(Exception):
    """The site turns the request down; `errors` maps a form field (or "form") to its text."""

    def __init__(self, errors: dict[str, str] | str, *, field: str = "form", status: int = 400):
        self.errors = {field: errors} if isinstance(errors, str) else dict(errors)
        self.status = status
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return next(iter(self.errors.values()))

    @property
    def field(self) -> str:
        return next(iter(self.errors))
