# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ASGI middleware: the Host and Origin checks against DNS rebinding and
cross-site requests."""
from typing import Iterable, Optional, Tuple
from urllib.parse import urlsplit

from .asgi_replies import ASGIApp, Message, Receive, Send, header, send_refusal

#: Methods that carry a request body / may act: their Origin is checked.
UNSAFE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')
DEFAULT_PORTS = {'http': 80, 'https': 443, 'ws': 80, 'wss': 443}


def split_host(value: str, scheme: str) -> Optional[Tuple[str, int]]:
    """``(host name, port)`` of a Host header value (``name``, ``name:port``,
    ``[v6]:port``), lower-cased; None when malformed."""
    try:
        parts = urlsplit(f'//{value}')
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.username is not None or parts.path:
        return None
    return name.lower(), port or DEFAULT_PORTS.get(scheme, 80)


class RequestOriginCheck:
    """Refuse requests that name another host, or POSTs from another site.

    - **Host allow-list, every request** (HTTP and WebSocket): the ``Host``
      header's name must be one of ``allowed_hosts`` (any port). A page of
      another site whose name was re-pointed at this machine (DNS
      rebinding) sends its own name as ``Host``: refused (400) before any
      route runs, so it can neither read ``/api/*`` nor have work done.
    - **Origin, every POST/PUT/PATCH/DELETE**: when the browser sends an
      ``Origin`` header it must be this server's own origin (the scheme
      and the ``Host`` of the request, default ports filled in); a form or
      ``fetch`` posted by another site's page is refused (403). Clients
      that send no ``Origin`` (curl, httpx, scripts) are not browsers
      driven by a page and pass.

    Args:
        app: The ASGI application.
        allowed_hosts (Iterable[str]): Host names served (e.g.
            ``127.0.0.1``, ``localhost``); compared case-insensitively.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed_hosts = tuple(
            h.lower().strip('[]') for h in allowed_hosts)
        if not self.allowed_hosts:
            raise ValueError('allowed_hosts is empty: no request could be '
                             'served')

    async def __call__(self, scope: Message, receive: Receive,
                       send: Send) -> None:
        if scope['type'] not in ('http', 'websocket'):
            await self.app(scope, receive, send)
            return
        scheme = str(scope.get('scheme', 'http'))
        host_value = header(scope, b'host')
        host = split_host(host_value, scheme)
        if host is None or host[0] not in self.allowed_hosts:
            await self._refuse(
                scope, send, 400,
                f'Host {host_value!r} is not a name of this server '
                f'(served: {", ".join(self.allowed_hosts)}); start the demo '
                'with --allowed-host NAME to serve another name')
            return
        origin = header(scope, b'origin')
        if origin and (scope['type'] == 'websocket'
                       or scope.get('method') in UNSAFE_METHODS):
            parts = urlsplit(origin)
            origin_host = split_host(parts.netloc, parts.scheme)
            if (parts.scheme.replace('ws', 'http'), origin_host) != (
                    scheme.replace('ws', 'http'), host):
                await self._refuse(
                    scope, send, 403,
                    f'Origin {origin!r} is not this server '
                    f'({scheme}://{host_value}): requests from pages of '
                    'other sites are refused')
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Message, send: Send, status: int,
                      detail: str) -> None:
        if scope['type'] == 'websocket':
            await send({'type': 'websocket.close', 'code': 1008})
            return
        await send_refusal(send, status, detail)
