# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Benchmark: what the web demo (projects/web_demo) adds to a prediction.

One process. The model is loaded once, through the demo's own
``InferencerPredictor`` (``MMIOCInferencer``), and the demo app is served
by uvicorn on 127.0.0.1 (a free port) in a thread. Timed round-robin, one
call of each per iteration after ``--warmup`` calls of each:

- ``direct``: ``predictor(image, classes)`` on the already decoded image
  (the reference: what any caller of the inferencer pays);
- ``http``: ``POST /api/predict`` with the image FILE (multipart upload,
  size checks, decoding, prediction, JSON answer), client wall time.

Then ``--concurrency`` requests sent at once (threads), ``--rounds``
times: the wall time until all are answered, against ``concurrency`` x the
direct median (the model answers one request at a time behind a lock, so
the ideal is that product).

Then a flood: ``--clients`` requests at once (threads, each its own
connection), once against the demo with its bound on requests in progress
(``--max-in-flight``, the demo's default 8: the others are answered 503
before their upload is read) and once with the bound lifted (every request
accepted and waiting for the model). For each: answered, refused (503),
failed, the wall time, and the process's peak resident memory above its
level before the flood (the server runs in this process; sampled every
2 ms from /proc/self/statm).

Reported: median and 90th percentile in ms and the ratios of medians.

Run from the repository root, as a module (the demo's package is imported
as ``projects.web_demo.web_demo``, as the tests do)::

    python -m benchmarks.bench_web_demo CONFIG CKPT --image part.jpg \\
        --texts "scratch on metal" "hole in wood" --iters 20
"""
import argparse
import dataclasses
import os
import os.path as osp
import platform
import socket
import threading
import time
from typing import Callable, List

import numpy as np


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--image', required=True, help='image file')
    parser.add_argument('--texts', nargs='+', required=True,
                        help='classes (prompts; "a|b" = an ensemble)')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads')
    parser.add_argument('--clients', type=int, default=32,
                        help='requests sent at once in the flood')
    parser.add_argument('--max-in-flight', type=int, default=8,
                        help='the bound of the demo under the flood')
    return parser.parse_args(argv)


def stats(times: List[float]) -> str:
    ms = np.asarray(times) * 1e3
    return f'{np.median(ms):8.1f} {np.percentile(ms, 90):8.1f}'


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class PeakMemory:
    """Peak resident memory of this process while in ``with``, in MB above
    the level at entry (sampled every 2 ms from /proc/self/statm)."""

    def __enter__(self) -> 'PeakMemory':
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def above_mb(self) -> float:
        return (self.peak - self.base) / 2**20

    @staticmethod
    def _rss() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())


def flood(url: str, clients: int, send: Callable) -> dict:
    """``clients`` requests at once; counts by outcome, wall time, memory."""
    barrier = threading.Barrier(clients + 1)
    codes: List[object] = []

    def one():
        import httpx
        with httpx.Client() as c:
            barrier.wait()
            try:
                codes.append(send(c).status_code)
            except Exception as err:  # noqa: BLE001 (counted as failed)
                codes.append(type(err).__name__)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    with PeakMemory() as memory:
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    return dict(answered=codes.count(200), refused=codes.count(503),
                failed=len(codes) - codes.count(200) - codes.count(503),
                wall_s=wall, peak_mb=memory.above_mb)


def serve(app):
    """Start uvicorn on 127.0.0.1 (free port) in a daemon thread."""
    import uvicorn
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level='warning', lifespan='off'))
    threading.Thread(target=server.run, kwargs=dict(sockets=[sock]),
                     daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f'http://127.0.0.1:{sock.getsockname()[1]}'


def main(argv=None) -> dict:
    args = parse_args(argv)
    import httpx
    import torch
    from projects.web_demo.web_demo import (DemoSettings, create_app,
                                            decode_image)
    from projects.web_demo.web_demo.inferencer_predictor import \
        InferencerPredictor

    torch.set_num_threads(args.threads)
    with open(args.image, 'rb') as f:
        data = f.read()
    name = osp.basename(args.image)
    predictor = InferencerPredictor.from_files(args.config, args.checkpoint)
    settings = DemoSettings(max_upload_bytes=max(len(data), 10 * 2**20),
                            max_in_flight=max(8, args.concurrency))
    image = decode_image(data, name, settings.max_upload_bytes,
                         settings.max_pixels)
    server, url = serve(create_app(predictor, settings))
    form = {'prompts': '\n'.join(args.texts), 'score_thr': '0'}

    def http_call(client):
        res = client.post(url + '/api/predict', data=form,
                          files={'image': (name, data)}, timeout=600)
        res.raise_for_status()
        return res.json()

    with httpx.Client() as client:
        direct, http = [], []
        answer = None
        for i in range(args.warmup + args.iters):
            d = timed(lambda: predictor(image, args.texts))
            start = time.perf_counter()
            answer = http_call(client)
            h = time.perf_counter() - start
            if i >= args.warmup:
                direct.append(d)
                http.append(h)

    def burst() -> float:
        barrier = threading.Barrier(args.concurrency + 1)
        errors = []

        def send():
            with httpx.Client() as c:
                barrier.wait()
                try:
                    http_call(c)
                except Exception as err:  # noqa: BLE001 (reported below)
                    errors.append(repr(err))

        threads = [threading.Thread(target=send)
                   for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f'{len(errors)} concurrent requests failed: '
                               f'{errors[:3]}')
        return time.perf_counter() - start

    bursts = [burst() for _ in range(args.rounds)]
    server.should_exit = True

    floods = {}
    for bound in (args.max_in_flight, args.clients):
        flood_server, flood_url = serve(create_app(
            predictor, dataclasses.replace(settings, max_in_flight=bound)))
        floods[bound] = flood(
            flood_url, args.clients,
            lambda c, u=flood_url: c.post(
                u + '/api/predict', data=form,
                files={'image': (name, data)}, timeout=600))
        flood_server.should_exit = True

    med_direct, med_http = np.median(direct), np.median(http)
    med_burst = np.median(bursts)
    print(f'bench_web_demo: {osp.basename(args.config)}, image {name} '
          f'({image.shape[1]} x {image.shape[0]}, {len(data)} bytes), '
          f'K = {len(args.texts)}, {answer["num_detections"]} boxes, '
          f'torch threads {args.threads}, {os.cpu_count()} CPUs, '
          f'{platform.processor() or platform.machine()}')
    print(f'{"variant":40s} {"median":>8s} {"p90":>8s}   ms')
    print(f'{"direct (predictor on a decoded image)":40s} {stats(direct)}')
    print(f'{"http (POST /api/predict, file upload)":40s} {stats(http)}')
    print(f'{f"{args.concurrency} concurrent requests, all answered":40s} '
          f'{stats(bursts)}')
    print(f'ratio http / direct:                      '
          f'{med_http / med_direct:.2f}')
    print(f'ratio {args.concurrency} concurrent / ({args.concurrency} x '
          f'direct):         '
          f'{med_burst / (args.concurrency * med_direct):.2f}')
    print(f'flood: {args.clients} requests at once '
          f'{"bound":>6s} {"answered":>9s} {"refused":>8s} {"failed":>7s} '
          f'{"wall s":>7s} {"peak MB":>8s}')
    for bound, res in floods.items():
        label = ('max_in_flight' if bound == args.max_in_flight else
                 'no bound (all accepted)')
        print(f'  {label:38s}{bound:6d} {res["answered"]:9d} '
              f'{res["refused"]:8d} {res["failed"]:7d} '
              f'{res["wall_s"]:7.1f} {res["peak_mb"]:8.1f}')
    return dict(direct=float(med_direct), http=float(med_http),
                burst=float(med_burst), floods=floods)


if __name__ == '__main__':
    main()
