# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""What the inferencer reads: images, folders, globs, videos, arrays."""
import collections
import copy
import glob
import io
import os
import os.path as osp
import re
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import (Any, Callable, Deque, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import cv2
import numpy as np

from mmioc_rtvp.format.file_io import IMAGE_EXTENSIONS

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.mpg',
                    '.mpeg', '.m4v', '.wmv')
#: Largest width x height decoded (checked from the file's header first: a
#: small file can declare a huge image; 100 MP of BGR pixels is 300 MB).
MAX_IMAGE_PIXELS = 100_000_000
#: Why a file of a folder is not read (its name has neither extension).
NOT_AN_IMAGE_NAME = 'not an image or video file name (extension)'
InputsType = Union[str, np.ndarray, Sequence[Union[str, np.ndarray]]]


@dataclass
class InferenceInput:
    """One image to run: a file, an array or a frame of a video.

    Attributes:
        name (str): How results and drawn files name it: the path of a
            file, ``<video path>#<frame index>`` for a frame, ``array_<i>``
            for an array.
        path (str, optional): Image file to decode.
        img (np.ndarray, optional): (H, W, 3) BGR uint8 pixels, once read.
        frame (int, optional): Frame index in its video.
        error (str, optional): Why the input gives no image (a folder or
            pattern that matched nothing); reported as skipped.
    """
    name: str
    path: Optional[str] = None
    img: Optional[np.ndarray] = None
    frame: Optional[int] = None
    error: Optional[str] = None


@dataclass
class VideoInput:
    """A video, read frame by frame (every ``stride``-th frame).

    Attributes:
        path (str): The video file.
    """
    path: str


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in '*?[')


def _folder_files(folder: str) -> List[str]:
    """Every file of a folder and its sub-folders, sorted."""
    return sorted(
        osp.join(root, name) for root, _, files in os.walk(folder)
        for name in files)


def _file_input(path: str, in_folder: bool = False
                ) -> Union[InferenceInput, VideoInput]:
    lower = path.lower()
    if lower.endswith(VIDEO_EXTENSIONS):
        return VideoInput(path)
    if in_folder and not lower.endswith(IMAGE_EXTENSIONS):
        return InferenceInput(name=path, error=NOT_AN_IMAGE_NAME)
    return InferenceInput(name=path, path=path)


def expand_inputs(inputs: InputsType
                  ) -> List[Union[InferenceInput, VideoInput]]:
    """Turn user inputs into a flat list of images and videos.

    - a folder: its files (recursively, sorted by path); those named as
      neither an image nor a video are items with ``error`` set, so that
      every file is accounted for;
    - a glob pattern (``data/*.png``, ``**`` allowed): the matching files;
    - a video file (by extension, :data:`VIDEO_EXTENSIONS`): a
      :class:`VideoInput`;
    - any other path: an image file (an unreadable or missing one is
      reported when it is read, not here);
    - a (H, W, 3) BGR array: an image named ``array_<i>``;
    - a list or tuple of the above.

    A folder or pattern that matches nothing gives an item with ``error``
    set (reported as skipped by :func:`iter_images`).

    Args:
        inputs: See above.

    Returns:
        list: :class:`InferenceInput` and :class:`VideoInput` items.

    Raises:
        TypeError: An input of another type.
    """
    items: List[Union[InferenceInput, VideoInput]] = []
    entries = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    for i, entry in enumerate(entries):
        if isinstance(entry, np.ndarray):
            items.append(InferenceInput(name=f'array_{i}', img=entry))
        elif isinstance(entry, (str, os.PathLike)):
            entry = os.fspath(entry)
            if osp.isdir(entry):
                files = _folder_files(entry)
                if not files:
                    items.append(InferenceInput(
                        name=entry, error='the folder holds no file'))
                items.extend(_file_input(f, in_folder=True) for f in files)
            elif _is_glob(entry) and not osp.exists(entry):
                files = sorted(
                    f for f in glob.glob(entry, recursive=True)
                    if osp.isfile(f))
                if not files:
                    items.append(InferenceInput(
                        name=entry, error='the pattern matches no file'))
                items.extend(_file_input(f) for f in files)
            else:
                items.append(_file_input(entry))
        else:
            raise TypeError(f'input {i}: expected a path or an image array, '
                            f'got {type(entry).__name__}')
    return items


def count_frames(path: str, stride: int) -> int:
    """Number of frames :func:`read_video` yields (0 if unreadable)."""
    cap = cv2.VideoCapture(path)
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    return max(0, (total + stride - 1) // stride)


def read_video(path: str, stride: int) -> Iterator[InferenceInput]:
    """Frames 0, stride, 2 * stride, ... of a video, decoded lazily.

    Args:
        path (str): The video file.
        stride (int): Keep one frame in ``stride`` (>= 1).

    Yields:
        InferenceInput: ``name='<path>#<index>'``, ``img`` BGR, ``frame``.

    Raises:
        OSError: The file cannot be opened as a video.
    """
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise OSError('cannot be opened as a video')
    index = 0
    try:
        while cap.grab():
            if index % stride == 0:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    yield InferenceInput(
                        name=f'{path}#{index}', img=frame, frame=index)
            index += 1
    finally:
        cap.release()


def _declared_pixels(data: bytes) -> Optional[int]:
    """Width x height from the image header (Pillow reads no pixels), or
    None when Pillow does not know the format (OpenCV then decides)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError as err:
        # raised from the header, over Pillow's own limit; its message
        # holds the count ('Image size (N pixels) exceeds limit of ...')
        found = re.search(r'\((\d+) pixels\)', str(err))
        if found is None:
            raise OSError(f'too many pixels ({err})') from None
        return int(found.group(1))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return width * height


def read_image(path: str,
               max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an image file to (H, W, 3) BGR uint8.

    Grayscale, 16-bit (scaled to 8 bits) and CMYK images are converted.
    Before decoding: an empty file, a JPEG or PNG cut short (which OpenCV
    would decode with grey rows, see
    :func:`~mmioc_rtvp.datasets.transforms.load_image_from_file.image_defect`)
    and an image declaring more than ``max_pixels`` are refused.

    Args:
        path (str): The image file.
        max_pixels (int): Largest width x height decoded.

    Raises:
        OSError: With the reason: missing, empty, truncated, too large,
            or bytes that are not a decodable image.
    """
    from mmioc_rtvp.datasets.transforms.load_image_from_file import \
        image_defect
    if not osp.isfile(path):
        raise OSError('no such file')
    data = np.fromfile(path, dtype=np.uint8)
    reason = image_defect(data.tobytes())
    if reason is not None:
        raise OSError(reason)
    pixels = _declared_pixels(data.tobytes())
    if pixels is not None and pixels > max_pixels:
        raise OSError(f'{pixels} pixels is over the limit of {max_pixels} '
                      '(--max-pixels)')
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise OSError('not a decodable image')
    return img


def num_images(items: Sequence[Union[InferenceInput, VideoInput]],
               stride: int) -> int:
    """How many images ``items`` give (video frames counted at ``stride``)."""
    return sum(
        count_frames(it.path, stride) if isinstance(it, VideoInput) else
        int(it.error is None) for it in items)


def _pending_images(items: Sequence[Union[InferenceInput, VideoInput]],
                    stride: int) -> Iterator[InferenceInput]:
    """Every image of ``items`` in order: files not decoded yet, arrays, and
    video frames (decoded here, one after the other); a video that cannot
    be opened is an item with ``error`` set."""
    for item in items:
        if not isinstance(item, VideoInput):
            yield item
            continue
        try:
            yield from read_video(item.path, stride)
        except OSError as err:
            yield InferenceInput(name=item.path, error=str(err))


def load_image(item: InferenceInput,
               max_pixels: int = MAX_IMAGE_PIXELS) -> Optional[str]:
    """Decode ``item`` if it is a file, and check its pixels.

    Args:
        item (InferenceInput): The image; ``item.img`` is set on success.
        max_pixels (int): Largest image decoded (see :func:`read_image`).

    Returns:
        str, optional: Why ``item`` gives no image; None when it does.
    """
    if item.error is not None:
        return item.error
    if item.img is None:
        try:
            item.img = read_image(item.path, max_pixels)
        except OSError as err:
            return str(err)
    if item.img.ndim != 3 or item.img.shape[2] != 3:
        return f'expected (H, W, 3) pixels, got shape {tuple(item.img.shape)}'
    return None


def iter_images(items: Sequence[Union[InferenceInput, VideoInput]],
                stride: int,
                skipped: List[Tuple[str, str]],
                max_pixels: int = MAX_IMAGE_PIXELS
                ) -> Iterator[InferenceInput]:
    """Decode ``items`` one by one; unreadable ones go to ``skipped``.

    Args:
        items: From :func:`expand_inputs`.
        stride (int): Frame stride of videos.
        skipped (list): Receives ``(name, reason)`` of every input that
            could not be read; nothing else is dropped.
        max_pixels (int): Largest image decoded (see :func:`read_image`).

    Yields:
        InferenceInput: With ``img`` set.
    """
    for item in _pending_images(items, stride):
        reason = load_image(item, max_pixels)
        if reason is None:
            yield item
        else:
            skipped.append((item.name, reason))


def iter_loaded(items: Sequence[Union[InferenceInput, VideoInput]],
                stride: int,
                skipped: List[Tuple[str, str]],
                pipeline: Callable[[dict], Any],
                max_pixels: int = MAX_IMAGE_PIXELS,
                num_workers: int = 0,
                prefetch: int = 1) -> Iterator[Tuple[InferenceInput, Any]]:
    """:func:`iter_images` followed by a test pipeline, optionally in
    loader threads.

    With ``num_workers`` > 0, the next images are decoded and run through
    the pipeline by that many threads (each with its own copy of
    ``pipeline``) while the caller works on the current ones, at most
    ``prefetch + num_workers`` images ahead. The images, their order and
    ``skipped`` (order included) are those of ``num_workers=0``; an
    exception of the pipeline reaches the caller at its image.

    Args:
        items: From :func:`expand_inputs`.
        stride (int): Frame stride of videos.
        skipped (list): Receives ``(name, reason)`` of every input that
            could not be read, in input order.
        pipeline (Callable): Takes ``dict(img=(H, W, 3) BGR uint8)`` (e.g.
            :func:`~.image_pipeline.build_array_pipeline`'s result).
        max_pixels (int): Largest image decoded (see :func:`read_image`).
        num_workers (int): Loader threads; 0 loads in the calling thread.
        prefetch (int): Images the caller takes at a time (its batch).

    Yields:
        tuple: ``(item, pipeline(dict(img=item.img)))``.
    """
    if num_workers < 0:
        raise ValueError(f'num_workers must be >= 0, got {num_workers}')
    local = threading.local()

    def load(item: InferenceInput) -> Tuple[InferenceInput, Optional[str],
                                            Any]:
        reason = load_image(item, max_pixels)
        if reason is not None:
            return item, reason, None
        if num_workers:  # a test transform may keep state between calls
            if not hasattr(local, 'pipeline'):
                local.pipeline = copy.deepcopy(pipeline)
            return item, None, local.pipeline(dict(img=item.img))
        return item, None, pipeline(dict(img=item.img))

    pending = _pending_images(items, stride)
    results = (map(load, pending) if not num_workers else _ordered_map(
        load, pending, num_workers, max(1, prefetch) + num_workers))
    for item, reason, data in results:
        if reason is None:
            yield item, data
        else:
            skipped.append((item.name, reason))


def _ordered_map(func: Callable, inputs: Iterable, num_workers: int,
                 ahead: int) -> Iterator:
    """``map(func, inputs)`` in a thread pool, in order, with at most
    ``ahead`` inputs taken and not yet returned (bounded memory on a
    long stream); pending work is cancelled when the caller stops."""
    queue: Deque[Future] = collections.deque()
    with ThreadPoolExecutor(num_workers,
                            thread_name_prefix='mmioc-loader') as pool:
        try:
            for value in inputs:
                queue.append(pool.submit(func, value))
                if len(queue) >= ahead:
                    yield queue.popleft().result()
            while queue:
                yield queue.popleft().result()
        finally:
            for future in queue:
                future.cancel()
