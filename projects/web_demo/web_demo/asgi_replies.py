# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""What the demo's ASGI middlewares share: a JSON refusal, a drained body."""
import json
from typing import Awaitable, Callable, MutableMapping, Sequence, Tuple

Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]


async def send_refusal(send: Send, status: int, detail: str,
                       headers: Sequence[Tuple[bytes, bytes]] = ()) -> None:
    """Answer ``{"detail": detail}`` with ``status`` and close.

    Args:
        send: The ASGI send callable.
        status (int): HTTP status.
        detail (str): One line saying what was refused and why.
        headers: Extra response headers.
    """
    body = json.dumps({'detail': detail}).encode()
    await send({
        'type': 'http.response.start',
        'status': status,
        'headers': [(b'content-type', b'application/json'),
                    (b'content-length', str(len(body)).encode()),
                    (b'connection', b'close'), *headers],
    })
    await send({'type': 'http.response.body', 'body': body})


async def drain_body(receive: Receive, received: int, limit: int) -> bool:
    """Read and discard the rest of a refused request body.

    A browser's ``fetch`` (and httpx) send the whole body before reading
    the answer: answered early, they report a failed request instead of
    the refusal. Nothing is kept; at most ``limit`` bytes are read.

    Args:
        receive: The ASGI receive callable.
        received (int): Bytes of the body already read.
        limit (int): Stop reading past this many bytes.

    Returns:
        bool: False if the client left (nothing to answer).
    """
    while received <= limit:
        message = await receive()
        if message['type'] == 'http.disconnect':
            return False
        received += len(message.get('body', b''))
        if not message.get('more_body', False):
            return True
    return True


def header(scope: Message, name: bytes) -> str:
    """A request header's value (latin-1 decoded), '' when absent."""
    for key, value in scope.get('headers') or []:
        if key.lower() == name:
            return value.decode('latin-1')
    return ''
