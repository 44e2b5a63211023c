# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The exemplar routes: boxes drawn on reference images become classes.

    POST   /api/exemplar        multipart: ``image`` (file) or ``path``,
                                ``class_name``, ``box`` (x1, y1, x2, y2 in
                                the image's pixels)
    GET    /api/exemplars       the set: entries, classes, outlier flags
    DELETE /api/exemplars/{id}  one entry
    DELETE /api/exemplars       all entries

They sit behind the same middleware as every route (Host / Origin checks,
requests in progress, body size) and read server files only through
:class:`~.allowed_paths.AllowedPaths`.
"""
import json
import re
from typing import Optional, Tuple

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from mmioc_rtvp.prompts import EXEMPLAR, PromptRecord
from mmioc_rtvp.prompts.exemplar_refs import check_box
from .allowed_paths import AllowedPaths
from .errors import InputRejected
from .exemplar_set import ExemplarSet
from .form_image import read_form_image

#: Characters a class name cannot hold: the prompts field splits classes
#: at commas and new lines, and ``|`` joins a prompt ensemble.
CLASS_NAME_FORBIDDEN = re.compile(r'[,|\n\r]')


def parse_box(text: str) -> Tuple[float, float, float, float]:
    """``"x1, y1, x2, y2"`` (commas or spaces, or a JSON list) -> 4 floats.

    Raises:
        InputRejected: Not four numbers (400).
    """
    raw = str(text or '').strip()
    try:
        values = (json.loads(raw) if raw.startswith('[') else
                  [float(v) for v in re.split(r'[\s,]+', raw) if v])
        box = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4:
        raise InputRejected(f'box {raw[:60]!r}: expected four numbers x1, '
                            'y1, x2, y2 (pixels of the reference image)')
    return box


def parse_class_name(text: str, max_chars: int) -> str:
    """The exemplar class name, checked (400 with the reason)."""
    name = str(text or '').strip()
    if not name:
        raise InputRejected('no class name: type the name of the class the '
                            'box shows')
    if len(name) > max_chars:
        raise InputRejected(f'class name {name[:40]!r}...: {len(name)} '
                            f'characters > {max_chars}')
    if CLASS_NAME_FORBIDDEN.search(name):
        raise InputRejected(f'class name {name!r}: no comma, "|" or line '
                            'break (they separate classes and prompts)')
    return name


def no_encoder_message(model_name: str) -> str:
    """The refusal for a model that cannot encode boxes."""
    return (f'this model has no exemplar encoder ({model_name or "model"}): '
            'boxes cannot become classes; start the demo with a config of '
            'configs/exemplar/ and its checkpoint')


def add_exemplar_routes(app: FastAPI, predictor, settings,
                        exemplars: Optional[ExemplarSet],
                        allowed: AllowedPaths) -> None:
    """Register the exemplar routes on ``app``.

    Args:
        app (FastAPI): The demo application.
        predictor: The :class:`~.predictor.ExemplarPredictor` (a predictor
            without ``encode_exemplar`` has no exemplar encoder).
        settings (DemoSettings): Limits (upload, pixels, class name).
        exemplars (ExemplarSet, optional): The server's set (None: the
            model takes no class embeddings).
        allowed (AllowedPaths): The folders server images may come from.
    """
    can_encode = (exemplars is not None and
                  getattr(predictor, 'has_exemplar_encoder', False))

    def listing() -> dict:
        if exemplars is None:
            return dict(exemplars=[], classes=[], exemplar_encoder=False)
        return dict(exemplars.describe(), exemplar_encoder=can_encode)

    @app.post('/api/exemplar')
    async def add_exemplar(request: Request) -> dict:
        form = await request.form(max_files=1, max_fields=8)
        try:
            if not can_encode:
                raise InputRejected(no_encoder_message(settings.model_name))
            name = parse_class_name(form.get('class_name'),
                                    settings.max_prompt_chars)
            box = parse_box(form.get('box'))
            exemplars.check_room(name)
            source, img = await read_form_image(form, allowed, settings)
        finally:
            await form.close()
        try:
            box = check_box(box, img.shape[1], img.shape[0])
        except ValueError as err:
            raise InputRejected(f'{source!r}: {err}') from None
        try:
            embedding = await run_in_threadpool(predictor.encode_exemplar,
                                                img, box)
        except ValueError as err:  # e.g. the pipeline dropped the box
            raise InputRejected(f'{source!r}: the box cannot be encoded '
                                f'({err})') from err
        entry = exemplars.add(
            PromptRecord(name, EXEMPLAR, source, box), embedding)
        return dict(listing(), added=entry.id)

    @app.get('/api/exemplars')
    async def list_exemplars() -> dict:
        return listing()

    @app.delete('/api/exemplars/{entry_id}')
    async def delete_exemplar(entry_id: int) -> dict:
        if exemplars is None:
            raise InputRejected(f'no exemplar {entry_id}', status=404)
        exemplars.remove(entry_id)
        return dict(listing(), deleted=1)

    @app.delete('/api/exemplars')
    async def delete_exemplars() -> dict:
        deleted = 0 if exemplars is None else exemplars.clear()
        return dict(listing(), deleted=deleted)
