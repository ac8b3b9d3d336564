"""Parameter types of the command line, beyond click's own."""

from __future__ import annotations

import math
from typing import Any

import click


class Seconds(click.FloatRange):
    """A number of seconds in a range: click's FloatRange lets nan through every bound (and
    inf through a lower one), and nan makes a wait endless."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        return super().convert(number, param, ctx)


class Lease(click.ParamType):
    """--ttl: a lease's length in seconds, from "2h", "30m", "90s", "1d"."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from automation.errors import InputError
        from flows.htx.lease import parse_ttl

        if isinstance(value, float):
            return value
        try:
            return parse_ttl(str(value), "it")
        except InputError as exc:
            self.fail(exc.message.replace("it must be", "must be"), param, ctx)


def ttl_option(func: Any) -> Any:
    return click.option(
        "--ttl",
        type=Lease(),
        metavar="DURATION",
        help="Give the key a lease (2h, 30m, 90s, 1d): its end goes into the key's note, "
        "in the tool's tag, and into the store; `htx-keys keys reap` deletes the key once "
        "it has run out, from any machine that can log in. Counted from when this command "
        "starts. Without it the key has no lease and is never reaped.",
    )(func)
