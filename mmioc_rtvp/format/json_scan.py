# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Chunked reading of the big JSON arrays of an MMIOC annotation file.

:func:`scan_json_object` finds, with vectorised numpy over the raw bytes (a
read-only memory map of the file), the top-level members of the JSON object
and, for the big arrays (``images``, ``annotations``), the byte span of every
element. Only brackets outside strings are looked at, so the scan costs a few
passes of numpy comparisons per byte. :meth:`JsonArraySpan.iter_chunks` then
parses the elements with ``orjson``, a few thousand at a time, with the
cyclic garbage collector paused.
"""
import mmap
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Sequence, Tuple, Union

import numpy as np

from .io import gc_paused

try:
    import orjson
    _loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    import json
    _loads = json.loads

#: Bytes scanned per numpy block.
BLOCK_SIZE = 1 << 22
#: Records parsed per ``orjson`` call.
CHUNK_RECORDS = 1 << 13
_PAGE = mmap.PAGESIZE
_QUOTE, _BACKSLASH, _OPEN, _CLOSE = 0x22, 0x5C, 0x7B, 0x7D

Buffer = Union[bytes, mmap.mmap]


class JsonSyntaxError(ValueError):
    """The bytes are not a JSON object (the message says where)."""


def _release(buffer: Buffer, start: int, end: int) -> int:
    """Drop the memory-mapped pages of bytes ``start:end`` from the
    resident set (they stay in the page cache and are re-read on the next
    access); returns the page-aligned end of what was dropped."""
    start, end = start // _PAGE * _PAGE, end // _PAGE * _PAGE
    if (end > start and isinstance(buffer, mmap.mmap)
            and hasattr(mmap, 'MADV_DONTNEED')):
        buffer.madvise(mmap.MADV_DONTNEED, start, end - start)
    return max(start, end)


def _unescaped(data: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """Drop the escaped quotes (preceded by an odd number of backslashes).

    Args:
        data (np.ndarray): ``(L,)`` uint8, the whole buffer.
        quotes (np.ndarray): ``(Q,)`` positions of ``"`` bytes in ``data``.

    Returns:
        np.ndarray: The positions of the quotes that delimit strings.
    """
    after_backslash = quotes[data[np.maximum(quotes - 1, 0)] == _BACKSLASH]
    after_backslash = after_backslash[after_backslash > 0]
    if not len(after_backslash):
        return quotes
    escaped = []
    for pos in after_backslash.tolist():
        run = 0
        while pos - run - 1 >= 0 and data[pos - run - 1] == _BACKSLASH:
            run += 1
        if run % 2:
            escaped.append(pos)
    if not escaped:
        return quotes
    return np.setdiff1d(quotes, np.array(escaped, dtype=quotes.dtype))


def _bracket_tokens(
        buffer: Buffer,
        block_size: int = BLOCK_SIZE
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The brackets outside strings of nesting level 0 to 2.

    The level of a bracket is the depth of the container holding the value
    it opens or closes: 0 for the root object, 1 for its members' values, 2
    for the elements of those values.

    Args:
        buffer (bytes | mmap.mmap): The JSON text.
        block_size (int): Bytes processed per numpy block.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``(T,)`` int64 byte
        positions, ``(T,)`` bool "is an opening bracket" and ``(T,)`` int8
        levels, in byte order.

    Raises:
        JsonSyntaxError: Unbalanced brackets or an unterminated string.
    """
    data = np.frombuffer(buffer, dtype=np.uint8)
    positions, opens, levels = [], [], []
    in_string, depth, released = 0, 0, 0
    for start in range(0, len(data), block_size):
        block = data[start:start + block_size]
        quotes = np.flatnonzero(block == _QUOTE)
        if len(quotes) and ((block == _BACKSLASH).any() or
                            (start and data[start - 1] == _BACKSLASH)):
            quotes = _unescaped(data, quotes + start) - start
        folded = block | 0x20  # '[' -> '{' and ']' -> '}'
        brackets = np.flatnonzero((folded == _OPEN) | (folded == _CLOSE))
        if len(brackets):
            outside = (np.searchsorted(quotes, brackets) + in_string) & 1
            brackets = brackets[outside == 0]
        if len(brackets):
            is_open = folded[brackets] == _OPEN
            after = depth + np.cumsum(is_open.astype(np.int64) * 2 - 1)
            if after.min() < 0:
                bad = int(brackets[np.argmax(after < 0)]) + start
                raise JsonSyntaxError(f'unbalanced bracket at byte {bad}')
            level = np.where(is_open, after - 1, after)
            keep = level <= 2
            positions.append(brackets[keep] + start)
            opens.append(is_open[keep])
            levels.append(level[keep].astype(np.int8))
            depth = int(after[-1])
        in_string = (in_string + len(quotes)) & 1
        released = _release(buffer, released, start)
    del data
    if in_string:
        raise JsonSyntaxError('unterminated string')
    if depth:
        raise JsonSyntaxError(f'{depth} unclosed bracket(s) at the end')
    if not positions:
        return (np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int8))
    return (np.concatenate(positions), np.concatenate(opens),
            np.concatenate(levels))


@dataclass
class JsonArraySpan:
    """A JSON array of objects (or arrays) inside a buffer, not yet parsed.

    Attributes:
        buffer (bytes | mmap.mmap): The JSON text.
        source (str): Where the text comes from, for error messages.
        key (str): The member holding the array, for error messages.
        open_pos (int): Position of its ``[``.
        close_pos (int): Position of its ``]``.
        starts (np.ndarray): ``(R,)`` int64 position of the first byte of
            every element.
        ends (np.ndarray): ``(R,)`` int64 position after its last byte.
    """
    buffer: Buffer
    source: str
    key: str
    open_pos: int
    close_pos: int
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def _blank(self, start: int, end: int) -> bool:
        return not bytes(self.buffer[start:end]).strip()

    def iter_chunks(self,
                    size: int = CHUNK_RECORDS) -> Iterator[Tuple[int, list]]:
        """Parse the elements, ``size`` at a time.

        Args:
            size (int): Elements per chunk.

        Yields:
            tuple[int, list]: The index of the chunk's first element and its
            parsed elements.

        Raises:
            JsonSyntaxError: An element is not valid JSON.
            ValueError: The array holds a value that is neither an object
                nor an array.
        """
        not_object = ValueError(f"{self.source}: '{self.key}' holds a value "
                                'that is not a JSON object')
        num = len(self.starts)
        if num == 0:
            if not self._blank(self.open_pos + 1, self.close_pos):
                raise not_object
            return
        if not (self._blank(self.open_pos + 1, int(self.starts[0]))
                and self._blank(int(self.ends[-1]), self.close_pos)):
            raise not_object
        released = 0
        for first in range(0, num, size):
            last = min(num, first + size)
            begin, end = int(self.starts[first]), int(self.ends[last - 1])
            if first:
                previous_end = int(self.ends[first - 1])
                if bytes(self.buffer[previous_end:begin]).strip() != b',':
                    raise JsonSyntaxError(f"'{self.key}': expected ',' at "
                                          f'byte {previous_end}')
            text = b''.join((b'[', self.buffer[begin:end], b']'))
            try:
                with gc_paused():
                    records = _loads(text)
            except ValueError as err:
                raise JsonSyntaxError(
                    f"'{self.key}' elements {first}..{last - 1} (bytes "
                    f'{begin}..{end}): {_first_line(err)}')
            del text
            if len(records) != last - first:
                raise not_object
            yield first, records
            released = _release(self.buffer, released, begin)


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def scan_json_object(buffer: Buffer,
                     source: str = '<buffer>',
                     array_keys: Sequence[str] = ('images', 'annotations'),
                     block_size: int = BLOCK_SIZE) -> Dict[str, Any]:
    """Read the members of a JSON object, leaving big arrays unparsed.

    Args:
        buffer (bytes | mmap.mmap): The JSON text.
        source (str): Where it comes from, for error messages.
        array_keys (Sequence[str]): Members whose array values are returned
            as :class:`JsonArraySpan` instead of being parsed.
        block_size (int): Bytes processed per numpy block.

    Returns:
        dict[str, Any]: The members, in file order (the last one of
        duplicated keys, as JSON parsers do); values of ``array_keys`` that
        are arrays are :class:`JsonArraySpan`, the others parsed values.

    Raises:
        JsonSyntaxError: The text is not a JSON object, or is malformed at
            the top level (the message says where).
    """
    pos, is_open, level = _bracket_tokens(buffer, block_size)
    top = np.flatnonzero(level == 0)
    if (len(top) != 2 or not is_open[top[0]]
            or buffer[int(pos[top[0]])] != _OPEN
            or buffer[int(pos[top[1]])] != _CLOSE):
        raise JsonSyntaxError('the text is not one JSON object')
    root_open, root_close = int(pos[top[0]]), int(pos[top[1]])
    if (bytes(buffer[:root_open]).strip()
            or bytes(buffer[root_close + 1:]).strip()):
        raise JsonSyntaxError('the text is not one JSON object')

    # members' values that are objects or arrays -> placeholders [k]
    first_level = np.flatnonzero(level == 1)
    pairs = pos[first_level].reshape(-1, 2).tolist()
    pieces, prev = [b'{'], root_open + 1
    for k, (open_pos, close_pos) in enumerate(pairs):
        pieces.append(buffer[prev:open_pos])
        pieces.append(b'[%d]' % k)
        prev = close_pos + 1
    pieces.append(buffer[prev:root_close])
    pieces.append(b'}')
    try:
        members = _loads(b''.join(pieces))
    except ValueError as err:
        raise JsonSyntaxError(f'top level: {_first_line(err)}')

    second = np.flatnonzero(level == 2)
    pos2 = pos[second]
    for key, value in members.items():
        if not isinstance(value, list):
            continue
        open_pos, close_pos = pairs[value[0]]
        if key in array_keys and buffer[open_pos] == ord('['):
            lo, hi = np.searchsorted(pos2, [open_pos, close_pos])
            inner = pos2[lo:hi]
            members[key] = JsonArraySpan(buffer, source, key, open_pos,
                                         close_pos, inner[0::2].copy(),
                                         inner[1::2] + 1)
        else:
            try:
                with gc_paused():
                    members[key] = _loads(buffer[open_pos:close_pos + 1])
            except ValueError as err:
                raise JsonSyntaxError(f"'{key}': {_first_line(err)}")
    return members


def open_buffer(path: str) -> Buffer:
    """A read-only memory map of a local file (its bytes if it is empty).

    Args:
        path (str): The file.

    Returns:
        bytes | mmap.mmap: The content.
    """
    with open(path, 'rb') as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b''
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def close_buffer(buffer: Buffer) -> None:
    """Close a memory map from :func:`open_buffer` (bytes need nothing).

    Args:
        buffer (bytes | mmap.mmap): The buffer.
    """
    if isinstance(buffer, mmap.mmap):
        try:
            buffer.close()
        except BufferError:  # pragma: no cover - a view is still alive
            pass


def close_members(members: Dict[str, Any]) -> None:
    """Close the memory map behind the :class:`JsonArraySpan` members.

    Args:
        members (dict): What :func:`scan_json_object` returned.
    """
    for value in members.values():
        if isinstance(value, JsonArraySpan):
            close_buffer(value.buffer)


def iter_record_chunks(value: Any,
                       size: int = CHUNK_RECORDS
                       ) -> Iterator[Tuple[int, list]]:
    """Chunks of a big array member: a :class:`JsonArraySpan` or a list.

    Args:
        value (JsonArraySpan | list): The member's value.
        size (int): Records per chunk.

    Yields:
        tuple[int, list]: Index of the first record and the records.
    """
    if isinstance(value, JsonArraySpan):
        yield from value.iter_chunks(size)
    else:
        for first in range(0, len(value), size):
            yield first, value[first:first + size]
