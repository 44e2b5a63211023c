# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The FastAPI application: one HTML page and a small JSON API.

    GET  /               the page (static/index.html)
    GET  /api/info       limits, threshold and its source
    GET  /api/examples   images of the allowed folders (relative paths)
    GET  /api/image      one of them (?path=...)
    POST /api/predict    multipart: ``image`` (file) or ``path``, ``prompts``
                         (one per line or comma-separated), ``score_thr``,
                         ``use_exemplars`` (default 1)

and the exemplar routes (:mod:`.exemplar_routes`): ``POST /api/exemplar``,
``GET /api/exemplars``, ``DELETE /api/exemplars[/{id}]``.
"""
import mimetypes
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .admission_limit import AdmissionLimit
from .allowed_paths import AllowedPaths
from .body_size_limit import BodySizeLimit
from .errors import InputRejected
from .exemplar_routes import add_exemplar_routes
from .exemplar_set import ExemplarSet
from .form_image import read_form_image
from .predictor import Predictor
from .request_origin_check import RequestOriginCheck
from .security_headers import SecurityHeaders, content_security_policy

STATIC_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
#: Room for the multipart framing and the text fields around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


@dataclass
class DemoSettings:
    """Limits and options of the demo server.

    Attributes:
        max_upload_bytes (int): Largest image file accepted.
        max_pixels (int): Largest width x height accepted.
        max_prompts (int): Most prompts per request.
        max_prompt_chars (int): Longest prompt.
        allowed_dirs (Sequence[str]): Folders whose images may be read on
            the server (none by default: uploads only).
        threshold (float, optional): The predictor's image-level OK/NG
            score threshold (shown on the page).
        threshold_source (str): Where it came from (shown).
        default_score_thr (float): Initial display score threshold.
        max_examples (int): Most images listed from the allowed folders.
        model_name (str): Shown on the page (the config file name).
        allowed_hosts (Sequence[str]): Names a request's ``Host`` may
            carry (the bound address and ``localhost`` by default); any
            other is refused, as is a POST whose ``Origin`` is not this
            server.
        max_in_flight (int): Requests served at once; one more is answered
            503 before its body is read.
        max_exemplar_classes (int): Most exemplar classes held.
        max_exemplars (int): Most exemplars (entries) held.
    """

    max_upload_bytes: int = 10 * 2**20
    max_pixels: int = 40_000_000
    max_prompts: int = 32
    max_prompt_chars: int = 200
    allowed_dirs: Sequence[str] = field(default_factory=tuple)
    threshold: Optional[float] = None
    threshold_source: str = 'none'
    default_score_thr: float = 0.3
    max_examples: int = 200
    model_name: str = ''
    allowed_hosts: Sequence[str] = ('127.0.0.1', 'localhost')
    max_in_flight: int = 8
    max_exemplar_classes: int = 16
    max_exemplars: int = 64


def parse_prompts(text: str, max_prompts: int,
                  max_chars: int, allow_empty: bool = False) -> List[str]:
    """Classes typed one per line or separated by commas (a class may be a
    prompt ensemble ``"a|b"``, which the predictor splits).

    Blank entries are not classes; an empty vocabulary (unless
    ``allow_empty``: exemplar classes make the vocabulary), a duplicate, a
    too long entry or too many entries are refused with a message.
    """
    prompts = [p.strip() for line in text.splitlines()
               for p in line.split(',') if p.strip()]
    if not prompts and not allow_empty:
        raise InputRejected('empty vocabulary: type at least one prompt '
                            '(one per line or comma-separated)')
    if len(prompts) > max_prompts:
        raise InputRejected(
            f'{len(prompts)} prompts: at most {max_prompts} are accepted')
    for prompt in prompts:
        if len(prompt) > max_chars:
            raise InputRejected(f'prompt {prompt[:40]!r}...: '
                                f'{len(prompt)} characters > {max_chars}')
        if prompts.count(prompt) > 1:
            raise InputRejected(f'prompt {prompt!r} is given twice')
    return prompts


def parse_score_thr(value: Optional[str], default: float) -> float:
    """The display threshold, a number in [0, 1]."""
    if value is None or not str(value).strip():
        return default
    try:
        thr = float(value)
    except ValueError:
        raise InputRejected(f'score_thr {value!r}: not a number') from None
    if not 0.0 <= thr <= 1.0:
        raise InputRejected(f'score_thr {thr}: must be in [0, 1]')
    return thr


def parse_flag(value: Optional[str], default: bool = True) -> bool:
    """A form checkbox: ``1/true/on/yes`` or ``0/false/off/no``."""
    text = str(value or '').strip().lower()
    if not text:
        return default
    if text in ('1', 'true', 'on', 'yes'):
        return True
    if text in ('0', 'false', 'off', 'no'):
        return False
    raise InputRejected(f'{value!r}: expected 1 or 0')


def default_exemplar_set(predictor: Predictor,
                         settings: DemoSettings) -> Optional[ExemplarSet]:
    """An empty set for a predictor that takes class embeddings (one with
    a fingerprint and an embedding width), else None."""
    fingerprint = getattr(predictor, 'fingerprint', None)
    dim = getattr(predictor, 'embed_dims', None)
    if not fingerprint or not dim:
        return None
    return ExemplarSet(fingerprint, dim, settings.max_exemplar_classes,
                       settings.max_exemplars)


def create_app(predictor: Predictor, settings: DemoSettings,
               exemplars: Optional[ExemplarSet] = None) -> FastAPI:
    """Build the demo application around ``predictor``.

    Args:
        predictor (Predictor): Thread-safe detections for prompts (an
            :class:`~.predictor.ExemplarPredictor` also takes exemplar
            classes).
        settings (DemoSettings): Limits and options.
        exemplars (ExemplarSet, optional): The exemplar classes to start
            with (e.g. read from a file); by default an empty set when
            the predictor takes class embeddings.

    Every request, on any route (the ones below and any added later),
    passes these ASGI middlewares, outermost first:
    :class:`SecurityHeaders` (``nosniff``, content security policy, no
    framing), :class:`RequestOriginCheck` (``Host`` allow-list; ``Origin``
    of a POST), :class:`AdmissionLimit` (``max_in_flight`` requests, 503
    beyond) and :class:`BodySizeLimit` (``max_upload_bytes`` plus the
    form overhead, 413 beyond).

    Returns:
        FastAPI: The application.
    """
    allowed = AllowedPaths(settings.allowed_dirs)
    if exemplars is None:
        exemplars = default_exemplar_set(predictor, settings)
    with open(osp.join(STATIC_DIR, 'index.html'), encoding='utf-8') as f:
        page = f.read()
    app = FastAPI(
        title='mmioc_rtvp web demo',
        docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(InputRejected)
    async def refused(request: Request, exc: InputRejected) -> JSONResponse:
        return JSONResponse({'detail': exc.message}, status_code=exc.status)

    @app.get('/', response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get('/api/info')
    async def info() -> dict:
        return dict(
            model=settings.model_name,
            threshold=settings.threshold,
            threshold_source=settings.threshold_source,
            default_score_thr=settings.default_score_thr,
            max_upload_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_pixels,
            max_prompts=settings.max_prompts,
            allowed_dirs=len(allowed.folders),
            exemplar_encoder=bool(
                exemplars is not None
                and getattr(predictor, 'has_exemplar_encoder', False)))

    @app.get('/api/examples')
    async def examples() -> dict:
        images = await run_in_threadpool(allowed.list_images,
                                         settings.max_examples)
        return dict(images=images)

    @app.get('/api/image')
    async def image(path: str) -> Response:
        data = await run_in_threadpool(allowed.read, path,
                                       settings.max_upload_bytes)
        media_type = mimetypes.guess_type(path)[0]
        return Response(data, media_type=media_type or
                        'application/octet-stream')

    @app.post('/api/predict')
    async def predict(request: Request) -> dict:
        start = time.perf_counter()
        form = await request.form(max_files=1, max_fields=8)
        try:
            use = parse_flag(form.get('use_exemplars'))
            snapshot = (exemplars.snapshot()
                        if use and exemplars is not None else None)
            prompts = parse_prompts(
                str(form.get('prompts') or ''), settings.max_prompts,
                settings.max_prompt_chars, allow_empty=snapshot is not None)
            score_thr = parse_score_thr(
                form.get('score_thr'), settings.default_score_thr)
            name, img = await read_form_image(form, allowed, settings)
        finally:
            await form.close()
        try:
            if snapshot is None:
                pred = await run_in_threadpool(predictor, img, prompts)
            else:
                pred = await run_in_threadpool(predictor, img, prompts,
                                               snapshot)
        except ValueError as err:  # e.g. a prompt the text encoder refuses
            raise InputRejected(f'prediction refused: {err}') from err
        shown = [d for d in pred.detections if d.score >= score_thr]
        classes = [c.to_json() for c in pred.classes] or [
            dict(name=p.split('|')[0].strip(), source='text',
                 prompts=[q.strip() for q in p.split('|')], exemplars=0,
                 excluded=0) for p in prompts]
        return dict(
            image=dict(name=name, width=img.shape[1], height=img.shape[0]),
            prompts=prompts,
            classes=classes,
            score_thr=score_thr,
            detections=[d.to_json() for d in shown],
            num_detections=len(pred.detections),
            num_hidden=len(pred.detections) - len(shown),
            defect_score=pred.defect_score,
            verdict=pred.verdict,
            threshold=settings.threshold,
            threshold_source=settings.threshold_source,
            elapsed_ms=round((time.perf_counter() - start) * 1e3, 1))

    add_exemplar_routes(app, predictor, settings, exemplars, allowed)

    # add_middleware wraps: the last one added sees a request first
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(AdmissionLimit, max_in_flight=settings.max_in_flight)
    app.add_middleware(RequestOriginCheck,
                       allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders,
                       csp=content_security_policy([page]))
    return app
