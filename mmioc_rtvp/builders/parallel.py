# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""``[func(x) for x in items]`` in parallel, in order, with a progress bar
(the image probing, hashing and copying of the converters and the merge)."""
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List


def parallel_map(func: Callable,
                 items: list,
                 num_workers: int,
                 progress: bool = False,
                 desc: str = '',
                 processes: bool = False) -> List:
    """``[func(x) for x in items]``, in parallel, results in input order.

    Args:
        func (Callable): Applied to every item (picklable with
            ``processes``).
        items (list): The items.
        num_workers (int): Workers; 1 (or a single item) runs in this
            thread.
        progress (bool): Show a ``tqdm`` bar. Defaults to False.
        desc (str): The bar's label.
        processes (bool): A process pool (CPU-bound work) instead of
            ``2 * num_workers`` threads (I/O-bound work). Defaults to False.

    Returns:
        list: ``func(x)`` for every item, in order.
    """
    bar = None
    if progress and items:
        from tqdm import tqdm
        bar = tqdm(total=len(items), desc=desc)
    results = []
    try:
        for r in _results(func, items, num_workers, processes):
            results.append(r)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return results


def _results(func: Callable, items: list, num_workers: int,
             processes: bool) -> Iterable:
    """The results of ``func`` over ``items`` in order, as they come."""
    if num_workers <= 1 or len(items) <= 1:
        yield from map(func, items)
    elif processes:
        import multiprocessing
        chunk = max(1, min(64, len(items) // (num_workers * 8)))
        with multiprocessing.Pool(num_workers) as pool:
            yield from pool.imap(func, items, chunksize=chunk)
    else:
        with ThreadPoolExecutor(num_workers * 2) as pool:
            yield from pool.map(func, items)
