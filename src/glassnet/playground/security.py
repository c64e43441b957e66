"""The playground's defences: no other web page, and no other machine without the token, can use it.

A server on 127.0.0.1 is not private: any page the browser visits can send it requests. A DNS-rebinding page
(its name made to resolve to 127.0.0.1) reads the answers, since to the browser they come from its own origin;
any page can send "simple" cross-site requests (a form's POST, ``text/plain``, no preflight) that start work.
:class:`SecurityMiddleware` answers every request in this order, the first failing check giving the playground's
one-line JSON error:

1. **Host** (403): the ``Host`` header must name this server: ``localhost``, ``127.0.0.1`` or ``[::1]`` with
   the bound port, the bound address, a name given with ``--allow-host``, or, on a wildcard bind (``0.0.0.0``,
   ``::``), any IP address (a rebinding page always names a host, never an address);
2. **token** (401), when one is set (always off loopback): ``?token=`` on a page is exchanged for an HttpOnly,
   SameSite=Strict cookie and redirected to the clean URL; the cookie, ``?token=`` or ``Authorization: token
   T`` is compared with the token in constant time;
3. **same origin** (403) on every request that changes state (any method but GET and HEAD, and the event
   streams, which keep training going): ``Origin`` must be this server's own origin, or, where absent,
   ``Sec-Fetch-Site`` must say ``same-origin``; a request that says neither is refused;
4. **body type** (415): the JSON endpoints take ``application/json`` only, the uploads their own type only
   (never one that a cross-site form may send without a preflight).

Every answer carries a Content-Security-Policy allowing only the server's own scripts, styles and images
(no inline script, no framing), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.
A refused request's body is read and discarded (up to :data:`DRAIN_BYTES`) before the answer, so that a
client still sending it reads the answer instead of a reset connection.

The checks are pure functions of the request's headers and the :class:`Policy`, tested one by one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
DRAIN_BYTES = 16 << 20
"""The most of a refused request's body read and discarded before answering (beyond it, the connection closes)."""
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = (("content-security-policy", CSP), ("x-content-type-options", "nosniff"),
           ("referrer-policy", "no-referrer"), ("x-frame-options", "DENY"),
           ("cross-origin-resource-policy", "same-origin"))
JSON_TYPES = ("application/json",)
UPLOAD_TYPES = {"csv": ("text/csv",), "model": ("application/octet-stream",)}
"""The uploads under ``/api/lab/{sid}/`` by last path segment, and the body types each accepts."""
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,256}")
_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")


# ----------------------------------------------------------------------------- the policy
def host_form(name: str) -> str:
    """A host name or address as a Host header spells it: lower case, no trailing dot, IPv6 in brackets,
    addresses in their compressed form (``[0::1]`` -> ``[::1]``)."""
    name = name.strip().lower().rstrip(".")
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return name
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def check_allowed_host(name: str) -> str:
    """``name`` (for ``--allow-host``) in its Host-header form; a ValueError names what was expected."""
    form = host_form(name) if isinstance(name, str) else ""
    if not (_NAME.fullmatch(form) or (form.startswith("[") and _is_address(form))):
        raise ValueError(f"--allow-host expects a host name or address such as box.local or 192.168.1.20, "
                         f"got {name!r}")
    return form


def check_token(token: str) -> str:
    """``token`` if it can travel in a URL and a cookie unquoted; a ValueError says what was expected."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValueError("--token must be 1 to 256 letters, digits or the characters - . _ ~ "
                         "(it travels in a URL and a cookie)")
    return token


def new_token() -> str:
    """A fresh token for one run: 192 random bits from :mod:`secrets`, URL-safe."""
    return secrets.token_urlsafe(24)


def _is_address(form: str) -> bool:
    try:
        ipaddress.ip_address(form.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this computer."""
    form = host_form(host)
    if form == "localhost":
        return True
    try:
        return ipaddress.ip_address(form.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Policy:
    """What the server accepts: its bound address and port, extra host names, and its token (None: no token)."""

    bound: str
    port: int
    allow_hosts: tuple[str, ...] = ()
    token: str | None = None
    hosts: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = {*LOOPBACK_NAMES, host_form(self.bound)}
        object.__setattr__(self, "hosts", frozenset(f"{n}:{self.port}" for n in names))
        object.__setattr__(self, "allow_hosts", tuple(check_allowed_host(n) for n in self.allow_hosts))
        if self.token is not None:
            check_token(self.token)

    @classmethod
    def for_bind(cls, bound: str, port: int, allow_hosts: tuple[str, ...] = (), token: str | None = None) -> Policy:
        """The policy of a server bound to ``bound:port``: ``token`` if given, a new one off loopback."""
        if token is None and not is_loopback(bound):
            token = new_token()
        return cls(bound, port, tuple(allow_hosts), token)

    @property
    def cookie(self) -> str:
        """The token cookie's name, one per port (cookies are shared by every port of a host)."""
        return f"glassnet-token-{self.port}"


# ----------------------------------------------------------------------------- the checks
def split_host(value: str) -> tuple[str, int | None]:
    """(name in Host-header form, port or None) of a Host header's value; ValueError when malformed."""
    value = value.strip()
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?", value)
    if m is None:
        raise ValueError(f"malformed host {value!r}")
    return host_form(m.group(1)), None if m.group(2) is None else int(m.group(2))


def host_error(host: str | None, policy: Policy) -> str | None:
    """Why a request naming ``host`` (its Host header) is refused, or None when it names this server."""
    if not host:
        return "the request names no host (a Host header is required)"
    try:
        name, port = split_host(host)
    except ValueError:
        name, port = "", None
    if f"{name}:{80 if port is None else port}" in policy.hosts or name in policy.allow_hosts:
        return None
    if host_form(policy.bound).strip("[]") in WILDCARD_ADDRESSES and port == policy.port and _is_address(name):
        return None
    return (f"host {host[:80]!r} is not this playground; it answers to localhost:{policy.port} and "
            f"127.0.0.1:{policy.port} (glassnet playground --allow-host NAME adds a name)")


def changes_state(method: str, path: str) -> bool:
    """Whether a request may change state or start work: any method but GET and HEAD, and the event streams."""
    return method not in ("GET", "HEAD") or path.endswith("/stream")


def origin_error(headers: Headers, host: str) -> str | None:
    """Why a state-changing request is refused as cross-site, or None when it says it comes from this server:
    ``Origin`` naming ``host`` (the checked Host header; http, or https through a proxy), or, where absent,
    ``Sec-Fetch-Site: same-origin``."""
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin) if origin != "null" else None
        if (parts is not None and parts.scheme in ("http", "https") and not parts.path  # https: behind a proxy
                and parts.netloc.lower() == host.lower()):
            return None
        return f"cross-origin request from {origin[:80]!r} refused: the playground only takes its own pages' requests"
    site = headers.get("sec-fetch-site")
    if site == "same-origin":
        return None
    if site is not None:
        return f"{site[:40]} request refused (Sec-Fetch-Site): the playground only takes its own pages' requests"
    return (f"request without Origin or Sec-Fetch-Site refused: a request that changes state must say where it "
            f"comes from (browsers do; a script sends Origin: http://{host})")


def body_types(path: str) -> tuple[str, ...]:
    """The body types a POST to ``path`` accepts: an upload's own, else JSON."""
    parts = path.split("/")
    if len(parts) == 5 and parts[:3] == ["", "api", "lab"] and parts[4] in UPLOAD_TYPES:
        return UPLOAD_TYPES[parts[4]]
    return JSON_TYPES


def content_type_error(headers: Headers, path: str) -> str | None:
    """Why a POST's body type is refused, or None when it is one ``path`` accepts (parameters ignored)."""
    given = headers.get("content-type")
    kind = (given or "").split(";")[0].strip().lower()
    accepted = body_types(path)
    if kind in accepted:
        return None
    return f"{path[:80]} takes Content-Type: {' or '.join(accepted)}, got {given[:60] if given else 'none'}"


def token_matches(given: str | None, token: str) -> bool:
    """Whether ``given`` is ``token``, compared in constant time (of equal-length digests)."""
    if given is None:
        return False
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(),
                               hashlib.sha256(token.encode()).digest())


def given_token(headers: Headers, query: dict[str, str], cookie: str) -> str | None:
    """The token a request carries: ``?token=``, else the cookie, else ``Authorization: token T`` (or Bearer)."""
    if "token" in query:
        return query["token"]
    cookies = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        cookies[name] = value
    if cookie in cookies:
        return cookies[cookie]
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else None


# ----------------------------------------------------------------------------- the middleware
def _secured(send: Send) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers += [(k.encode(), v.encode()) for k, v in HEADERS if k.encode() not in present]
            message = {**message, "headers": headers}
        await send(message)

    return send_with_headers


async def drain(receive: Receive, limit: int = DRAIN_BYTES) -> int:
    """Read and discard a request's body, up to ``limit`` bytes; the number of bytes read."""
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return size


def _worth_draining(headers: Headers) -> bool:
    """Whether a request has a body that :func:`drain` can read to its end."""
    length = headers.get("content-length", "")
    if length.isdigit():
        return 0 < int(length) <= DRAIN_BYTES
    return "transfer-encoding" in headers


class SecurityMiddleware:
    """ASGI middleware applying :class:`Policy` to every HTTP request (see the module's docstring)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], policy: Policy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _secured(send)
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"]
        host = headers.get("host")
        error = host_error(host, self.policy)
        if error:
            await self._refuse(403, error, scope, receive, send)
            return
        if self.policy.token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
            if not token_matches(given_token(headers, query, self.policy.cookie), self.policy.token):
                await self._refuse(401, "this playground needs its token: open the URL that glassnet playground "
                                        "printed (http://HOST:PORT/?token=...)", scope, receive, send)
                return
            if "token" in query and method == "GET" and not path.startswith("/api/"):
                clean = path + ("?" + urlencode([(k, v) for k, v in query.items() if k != "token"])
                                if len(query) > 1 else "")
                response = RedirectResponse(clean, status_code=303)
                response.set_cookie(self.policy.cookie, self.policy.token, httponly=True, samesite="strict")
                await response(scope, receive, send)
                return
        if changes_state(method, path):
            error = origin_error(headers, host or "")
            if error is None and method == "POST":
                error = content_type_error(headers, path)
                if error:
                    await self._refuse(415, error, scope, receive, send)
                    return
            if error:
                await self._refuse(403, error, scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
        if _worth_draining(Headers(scope=scope)):
            await drain(receive)
        await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
