# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""ASGI middleware bounding the requests in progress at once."""
from .asgi_replies import (ASGIApp, Message, Receive, Send, drain_body,
                           send_refusal)


class AdmissionLimit:
    """Answer 503 to a request arriving while ``max_in_flight`` are served.

    Every request in progress may hold its body (up to the body limit) and,
    for a prediction, its decoded image (up to ``--max-pixels`` x 3 bytes,
    several copies while it is converted); predictions run one at a time,
    so the others wait holding that memory. Counting requests *before*
    their body is read bounds it: a request beyond the limit is refused at
    once with a message and ``Retry-After``; its body is read and
    discarded (up to ``drain_bytes``, never stored) so that the browser
    shows the message rather than a failed request.

    Args:
        app: The ASGI application.
        max_in_flight (int): Requests served at once (>= 1).
        drain_bytes (int): Most bytes of a refused body read and discarded.
            Defaults to 64 MB.
        retry_after_s (int): The ``Retry-After`` advice. Defaults to 2.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int,
                 drain_bytes: int = 64 * 2**20,
                 retry_after_s: int = 2) -> None:
        if max_in_flight < 1:
            raise ValueError(f'max_in_flight must be >= 1, got '
                             f'{max_in_flight}')
        self.app = app
        self.max_in_flight = int(max_in_flight)
        self.drain_bytes = drain_bytes
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Message, receive: Receive,
                       send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        # one event loop: the check and the increment are not interleaved
        if self.in_flight >= self.max_in_flight:
            self.refused += 1
            if await drain_body(receive, 0, self.drain_bytes):
                await send_refusal(
                    send, 503,
                    f'server busy: {self.in_flight} requests in progress '
                    f'(limit {self.max_in_flight}); try again in a moment',
                    headers=[(b'retry-after',
                              str(self.retry_after_s).encode())])
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
