# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ASGI middleware bounding the size of every request body."""
from .asgi_replies import Message, Receive, Send, drain_body, send_refusal


class BodySizeLimit:
    """Refuse (413) any HTTP request whose body exceeds ``max_bytes``.

    A body is never held in memory beyond ``max_bytes``: past the limit
    (declared by ``Content-Length`` or reached while reading a chunked body)
    the rest is read and discarded, up to ``drain_bytes``, so that the client
    - a browser's ``fetch`` or httpx, which send the whole body before
    reading the answer - receives the 413 message rather than a reset
    connection; beyond ``drain_bytes`` the connection is answered and closed
    at once. Accepted bodies are replayed to the application unchanged.

    Args:
        app: The ASGI application.
        max_bytes (int): Largest accepted body.
        drain_bytes (int): Most bytes read (and discarded) from a refused
            body. Defaults to 64 MB.
    """

    def __init__(self, app, max_bytes: int,
                 drain_bytes: int = 64 * 2**20) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Message, receive: Receive,
                       send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get('headers') or [])
        declared = headers.get(b'content-length')
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await send_refusal(send, 400, 'invalid Content-Length')
                return
            if size > self.max_bytes:
                if await self._drain(receive, 0):
                    await send_refusal(send, 413, self._too_large(size))
                return
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message['type'] == 'http.disconnect':
                return
            chunk = message.get('body', b'')
            total += len(chunk)
            more = bool(message.get('more_body', False))
            if total > self.max_bytes:
                chunks.clear()
                if not more or await self._drain(receive, total):
                    await send_refusal(send, 413, self._too_large(None))
                return
            chunks.append(chunk)
        body = b''.join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {'type': 'http.request', 'body': body,
                        'more_body': False}
            return await receive()

        await self.app(scope, replay, send)

    async def _drain(self, receive: Receive, received: int) -> bool:
        """Discard the rest of a refused body; False if the client left."""
        return await drain_body(receive, received, self.drain_bytes)

    def _too_large(self, size) -> str:
        what = f'{size} bytes' if size is not None else 'more bytes'
        return (f'request body of {what} is over the limit of '
                f'{self.max_bytes} bytes ({self.max_bytes / 2**20:.1f} MB)')
