"""Is an address this machine? Some settings are for a local sandbox only (plain IMAP, a
short GA period), and are refused anywhere else."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


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
