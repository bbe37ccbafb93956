"""The one masking rule: every credential form in free text becomes `***`.

Used by every surface that can echo a connection string or a driver message: dataset responses
(REST and GraphQL), job errors and log lines (and so the websocket frames that carry them), and the
server's own log lines. It errs on the side of masking too much: a host name lost from a message is
a small price, a password shown once is not.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"

# Names whose value is a secret, as a URL query parameter, a key=value DSN word or a JSON-ish key.
# `key` alone is included on purpose; a letter, digit or `_` just before the name stops a match, so
# `monkey=` or `sort_key=` stay as they are while `api_key=` and `sslpassword=` are masked.
SECRET_NAMES = ("password", "passwd", "pwd", "sslpassword", "secret", "client_secret", "token", "access_token",
                "refresh_token", "auth_token", "api_key", "apikey", "key", "private_key", "secret_key",
                "private-token")
_NAMES = "|".join(sorted((re.escape(n) for n in SECRET_NAMES), key=len, reverse=True))
_KEY_VALUE = re.compile(
    rf"(?<![A-Za-z0-9_])((?:{_NAMES})[\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;\"'}}\]\)]+)",
    re.IGNORECASE,
)
# A URL up to the next whitespace; the userinfo ends at its LAST `@`, so a password holding an
# unencoded `@` (or `:`) is masked whole rather than cut at its first `@`.
_URL = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://)(\S+)")
_SCHEME_AUTH = re.compile(r"\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
# A JSON Web Token anywhere (three base64url parts, the first two starting as JSON objects do).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def _mask_url(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    at = rest.rfind("@")
    if at > 0:
        userinfo, tail = rest[:at], rest[at:]
        colon = userinfo.find(":")
        if colon >= 0:
            rest = f"{userinfo[:colon + 1]}{MASK}{tail}"
    return scheme + rest


def _mask_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if value in (MASK, f'"{MASK}"', f"'{MASK}'"):
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"


def mask_secrets(text: str) -> str:
    """Mask URL passwords (with `@`/`:` inside too), secret query parameters and DSN words, bearer tokens."""
    if not isinstance(text, str):
        return MASK
    if not text:
        return text
    text = _URL.sub(_mask_url, text)
    text = _KEY_VALUE.sub(_mask_value, text)
    text = _SCHEME_AUTH.sub(rf"\1\2{MASK}", text)
    return _JWT.sub(MASK, text)


def url_secrets(url: str) -> list[str]:
    """The literal secrets inside a connection URL (userinfo password, secret query values), for redaction."""
    found: list[str] = []
    if not isinstance(url, str) or "://" not in url:
        return found
    rest = url.split("://", 1)[1]
    at = rest.rfind("@")
    if at > 0 and ":" in rest[:at]:
        raw = rest[:at].split(":", 1)[1]
        found += [raw, unquote(raw)]
    try:
        query = urlsplit(url).query
    except ValueError:
        query = url.split("?", 1)[1] if "?" in url else ""
    for name, value in parse_qsl(query, keep_blank_values=False):
        if name.lower() in SECRET_NAMES and value:
            found.append(value)
    return [secret for secret in dict.fromkeys(found) if len(secret) >= 3]


def redact(text: str, *urls: str) -> str:
    """mask_secrets, and also every literal secret of `urls` (a driver may echo a password alone)."""
    for url in urls:
        for secret in url_secrets(url):
            text = text.replace(secret, MASK)
    return mask_secrets(text)
