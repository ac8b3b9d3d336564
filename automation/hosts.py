"""Is an address this machine? Some settings are for a local sandbox only (plain IMAP, a
short GA period), and are refused anywhere else."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (with or without brackets): this machine, surely."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_loopback_host(host)


# Schemes that carry everything in the clear; their encrypted twins are https and wss.
CLEAR_SCHEMES = frozenset({"http", "ws"})


def in_the_clear(url: str) -> bool:
    """http:// or ws:// to a host other than this machine: readable by anyone on the way."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme in CLEAR_SCHEMES and not is_loopback_url(url)


def url_problem(url: str, schemes: tuple[str, ...], *, site: bool = False) -> str | None:
    """What is wrong with a URL a setting names (None: nothing), to follow the URL in a
    one-line message. A `site` URL is a base that paths are added to: no query or fragment.

    Whether plain text may go there is `in_the_clear`'s question, not this one's.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in schemes:
        return "must start with " + " or ".join(f"{s}://" for s in schemes)
    if not parts.hostname:
        return "names no host"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    if port == 0:
        return "names port 0"
    if site and (parts.query or parts.fragment):
        return "must not hold a query or fragment (?... or #...)"
    return None


def safe_url(url: str) -> str:
    """A URL fit for a message: no user name, password, query or fragment (services put
    tokens there); "" when it cannot be taken apart at all."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_site(url: str) -> str:
    """How two site URLs are compared: scheme and host lower-cased, the default port dropped,
    path, query and trailing slash ignored ("https://WWW.htx.com:443/en-us/" is
    "https://www.htx.com"). "www." stays: www.htx.com and htx.com count as two sites.
    Text that is no URL is compared as it is, stripped and lower-cased."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.rstrip("/").lower()
    host = parts.hostname
    if not parts.scheme or not host:
        return text.rstrip("/").lower()
    scheme = parts.scheme.lower()
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host.rstrip('.')}"
