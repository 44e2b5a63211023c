# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Start the web demo: upload an image, type prompts, see boxes, scores and
the OK/NG verdict.

    python projects/web_demo/app.py CONFIG CHECKPOINT \
        [--host 127.0.0.1] [--port 7860] [--allowed-dir DIR ...] \
        [--threshold T | --threshold-file FILE] [--exemplars FILE]

Binds 127.0.0.1 unless told otherwise; serves no file of the machine unless
its folder is given with --allowed-dir.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import uvicorn

from web_demo import AllowedPaths, DemoSettings, ExemplarSet, create_app
from web_demo.inferencer_predictor import InferencerPredictor

LOOPBACK = ('127.0.0.1', 'localhost', '::1')
WILDCARDS = ('0.0.0.0', '::', '')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--host', default='127.0.0.1',
        help='address to bind (default 127.0.0.1: this machine only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument(
        '--allowed-dir', nargs='+', default=[], metavar='DIR',
        help='folders whose images the page may open on the server '
        '(default: none, uploads only)')
    thr = parser.add_mutually_exclusive_group()
    thr.add_argument(
        '--threshold', type=float,
        help='image-level OK/NG score threshold (NG when the highest '
        'detection score is >= it)')
    thr.add_argument(
        '--threshold-file',
        help='the threshold file written by tools/analysis_tools/'
        'calibrate_threshold.py (default: <CHECKPOINT without .pth>'
        '.okng.json when it exists)')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='initial display score threshold of the page')
    parser.add_argument(
        '--max-upload-mb', type=float, default=10.0,
        help='largest accepted image file (MB)')
    parser.add_argument(
        '--max-pixels', type=int, default=40_000_000,
        help='largest accepted width x height')
    parser.add_argument(
        '--max-examples', type=int, default=200,
        help='most images of the allowed folders listed on the page')
    parser.add_argument(
        '--allowed-host', nargs='+', default=[], metavar='NAME',
        help='more names the page may be opened under (default: the --host '
        'address and localhost; any other Host header is refused)')
    parser.add_argument(
        '--max-in-flight', type=int, default=8,
        help='requests served at once; more are answered 503 (busy) '
        'before their upload is read')
    parser.add_argument(
        '--exemplars', metavar='FILE',
        help='exemplar / tuned class embeddings made with this checkpoint '
        '(tools/make_exemplars.py, tools/prompt_tune.py): their classes are '
        'on the page from the start; a file of another model is refused')
    parser.add_argument(
        '--max-exemplar-classes', type=int, default=16,
        help='most exemplar classes the server holds')
    parser.add_argument(
        '--max-exemplars', type=int, default=64,
        help='most exemplars the server holds')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def threshold_source(args: argparse.Namespace) -> str:
    """Where the OK/NG threshold comes from, as shown on the page."""
    if args.threshold is not None:
        return '--threshold'
    if args.threshold_file:
        return args.threshold_file
    default = osp.splitext(args.checkpoint)[0] + '.okng.json'
    return default if osp.isfile(default) else 'none'


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad arguments in one line, before the model is loaded."""
    for kind, path in (('config', args.config),
                       ('checkpoint', args.checkpoint),
                       ('threshold', args.threshold_file),
                       ('exemplars', args.exemplars)):
        if path is not None and not osp.isfile(path):
            raise SystemExit(f'web_demo: no such {kind} file: {path}')
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise SystemExit(f'web_demo: --threshold {args.threshold}: '
                         'not in [0, 1]')
    if min(args.max_upload_mb, args.max_pixels, args.max_examples,
           args.max_in_flight, args.max_exemplar_classes,
           args.max_exemplars) <= 0:
        raise SystemExit('web_demo: --max-upload-mb, --max-pixels, '
                         '--max-examples, --max-in-flight, '
                         '--max-exemplar-classes and --max-exemplars must be '
                         'positive')
    try:
        AllowedPaths(args.allowed_dir)
    except NotADirectoryError as err:
        raise SystemExit(f'web_demo: {err}') from None


def allowed_hosts(args: argparse.Namespace) -> List[str]:
    """Host names served: the bound address, localhost and --allowed-host
    (a wildcard bind address is no name a browser sends)."""
    names = [] if args.host in WILDCARDS else [args.host]
    return list(dict.fromkeys(names + ['localhost'] + args.allowed_host))


def load_exemplars(args: argparse.Namespace,
                   predictor: InferencerPredictor) -> Optional[ExemplarSet]:
    """The ``--exemplars`` file as the server's starting set, checked
    against the loaded model; one line and exit when it cannot be used."""
    if args.exemplars is None:
        return None
    if not predictor.embed_dims:
        raise SystemExit(f'web_demo: --exemplars {args.exemplars}: '
                         f'{osp.basename(args.config)} is a closed-set '
                         'detector; it takes no class embeddings')
    try:
        return ExemplarSet.from_file(
            args.exemplars, predictor.fingerprint, predictor.embed_dims,
            args.max_exemplar_classes, args.max_exemplars)
    except ValueError as err:  # PromptEmbeddingsError is one
        raise SystemExit(f'web_demo: {err}') from None


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_args(args)
    if args.host not in LOOPBACK:
        print(f'web_demo: WARNING: binding {args.host} exposes the demo to '
              'the network (no authentication); pages are served under '
              f'the names {", ".join(allowed_hosts(args))} only '
              '(--allowed-host)', file=sys.stderr)
    predictor = InferencerPredictor.from_files(
        args.config, args.checkpoint, device=args.device,
        threshold=args.threshold, threshold_file=args.threshold_file)
    settings = DemoSettings(
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=args.max_pixels,
        allowed_dirs=args.allowed_dir,
        threshold=predictor.threshold,
        threshold_source=threshold_source(args),
        default_score_thr=args.score_thr,
        max_examples=args.max_examples,
        model_name=osp.basename(args.config),
        allowed_hosts=allowed_hosts(args),
        max_in_flight=args.max_in_flight,
        max_exemplar_classes=args.max_exemplar_classes,
        max_exemplars=args.max_exemplars)
    app = create_app(predictor, settings, load_exemplars(args, predictor))
    print(f'web_demo: serving {osp.basename(args.config)} on '
          f'http://{args.host}:{args.port}/', flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='warning')


if __name__ == '__main__':
    main()
