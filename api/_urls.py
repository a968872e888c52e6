"""The one rule for URLs the service fetches trust from (OIDC discovery, the issuer's JWKS).

Threat model: whoever serves the discovery document or the JWKS decides which tokens verify,
so both must come over TLS, or over plain http only from this machine. The URL is parsed, never
matched as a substring: ``http://attacker.example/jwks?127.0.0.1``,
``http://127.0.0.1.attacker.example/`` and ``http://127.0.0.1@attacker.example/`` name other
hosts. Messages name the setting and the broken rule, never the URL (its query may hold a secret).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


class UntrustedUrlError(ValueError):
    """A URL breaks the trust rule; ``setting`` names where it came from, ``reason`` the rule."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


def require_trusted_url(url: str, *, setting: str) -> str:
    """``url`` unchanged when it is https with a host, or http to ``localhost`` or a loopback
    address, in both cases without user info; else UntrustedUrlError."""
    if not _VISIBLE_ASCII.match(url):
        raise UntrustedUrlError(setting, "must be a URL without spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is not a number
    except ValueError:
        raise UntrustedUrlError(setting, "is not a valid URL") from None
    if parts.scheme not in ("https", "http"):
        raise UntrustedUrlError(setting, "must be an https:// URL")
    if "@" in parts.netloc:
        raise UntrustedUrlError(setting, "must not carry user info")
    host = parts.hostname
    if not host:
        raise UntrustedUrlError(setting, "must name a host")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise UntrustedUrlError(
            setting, "must be an https:// URL (plain http only to localhost or a loopback address)"
        )
    return url


def is_loopback_host(host: str) -> bool:
    """True for exactly ``localhost`` or a loopback IP literal (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
