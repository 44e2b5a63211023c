# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ASGI middleware adding the browser-side protections to every answer."""
import base64
import hashlib
import re
from typing import Iterable, List, Tuple

from .asgi_replies import ASGIApp, Message, Receive, Send

_INLINE = re.compile(r'<(script|style)(?:\s[^>]*)?>(.*?)</\1\s*>',
                     re.DOTALL | re.IGNORECASE)


def content_security_policy(pages: Iterable[str]) -> str:
    """The policy for the demo's pages: nothing but this server.

    The inline ``<script>`` and ``<style>`` blocks of ``pages`` are allowed
    by their SHA-256 (computed here, so an edited page stays allowed and an
    injected script is not); images may also be ``blob:`` / ``data:`` URLs
    (the preview of a file chosen on the page); no framing, no plugins, no
    form or base URL elsewhere.

    Args:
        pages (Iterable[str]): The HTML the server sends.

    Returns:
        str: The ``Content-Security-Policy`` header value.
    """
    hashes = {'script': [], 'style': []}
    for page in pages:
        for kind, body in _INLINE.findall(page):
            digest = base64.b64encode(
                hashlib.sha256(body.encode('utf-8')).digest()).decode()
            hashes[kind.lower()].append(f"'sha256-{digest}'")
    script = ' '.join(sorted(set(hashes['script']))) or "'none'"
    style = ' '.join(sorted(set(hashes['style']))) or "'none'"
    return ("default-src 'none'; "
            f"script-src {script}; style-src {style}; "
            "img-src 'self' blob: data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """Add ``X-Content-Type-Options: nosniff`` (a JSON or image answer is
    never run as a script or page), the content security policy, no
    framing and no referrer to every HTTP response, refusals included.

    Args:
        app: The ASGI application.
        csp (str): The ``Content-Security-Policy`` value
            (:func:`content_security_policy`).
    """

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers: List[Tuple[bytes, bytes]] = [
            (b'x-content-type-options', b'nosniff'),
            (b'content-security-policy', csp.encode()),
            (b'x-frame-options', b'DENY'),
            (b'referrer-policy', b'no-referrer'),
            (b'cross-origin-resource-policy', b'same-origin'),
        ]

    async def __call__(self, scope: Message, receive: Receive,
                       send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                names = {k.lower() for k, _ in message.get('headers', [])}
                message = dict(message)
                message['headers'] = list(message.get('headers', [])) + [
                    h for h in self.headers if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)
