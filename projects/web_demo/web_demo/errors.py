# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The one exception the web demo turns into a client-facing message."""


class InputRejected(ValueError):
    """A request the demo refuses, with the HTTP status and one clear line.

    Args:
        message (str): What was refused and why (shown on the page).
        status (int): HTTP status code. Defaults to 400.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
