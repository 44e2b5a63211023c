# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The image of a request's form: an upload, or a file of the allowed
folders."""
from typing import Tuple

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from .allowed_paths import AllowedPaths
from .errors import InputRejected
from .image_decoding import decode_image


async def read_form_image(form: FormData, allowed: AllowedPaths,
                          settings) -> Tuple[str, np.ndarray]:
    """The form's ``image`` upload, or its ``path`` (a file of the allowed
    folders), decoded within the upload and pixel bounds.

    Args:
        form (FormData): The parsed request form.
        allowed (AllowedPaths): The folders server images may come from.
        settings (DemoSettings): ``max_upload_bytes`` and ``max_pixels``.

    Returns:
        tuple[str, np.ndarray]: Its name and the (H, W, 3) BGR uint8 image.

    Raises:
        InputRejected: Neither given (400), or the refusals of
            :meth:`AllowedPaths.read` and :func:`decode_image`.
    """
    upload, path = form.get('image'), form.get('path')
    max_bytes = settings.max_upload_bytes
    if isinstance(upload, UploadFile):
        name = upload.filename or 'upload'
        data = await upload.read(max_bytes + 1)
    elif path:
        name = str(path)
        data = await run_in_threadpool(allowed.read, name, max_bytes)
    else:
        raise InputRejected('no image: upload a file or choose an image of '
                            'the allowed folders')
    return name, await run_in_threadpool(decode_image, data, name, max_bytes,
                                         settings.max_pixels)
