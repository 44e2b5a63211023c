# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Tests of projects/web_demo without a model: prompts, image decoding, the
allowed folders, the body-size bound and every refusal of the HTTP API (a
recording predictor shows the model is never reached by refused input)."""
import io
import os
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from projects.web_demo.web_demo import (AllowedPaths, DemoSettings,
                                        Detection, InputRejected, Prediction,
                                        create_app, decode_image,
                                        parse_prompts)
from tests.test_projects.web_demo_utils import png_bytes, random_image


class RecordingPredictor:
    """Returns a fixed prediction and records every call."""

    def __init__(self, prediction, error=None):
        self.prediction = prediction
        self.error = error
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, image, prompts):
        with self.lock:
            self.calls.append((image.copy(), list(prompts)))
        if self.error is not None:
            raise self.error
        return self.prediction


DETECTIONS = [
    Detection('hole in wood', 0.9, (1.0, 2.0, 30.0, 40.0)),
    Detection('scratch on metal', 0.5, (5.0, 5.0, 9.0, 12.0)),
    Detection('hole in wood', 0.1, (0.0, 0.0, 4.0, 4.0)),
]
PREDICTION = Prediction(DETECTIONS, 0.9, 'NG')
LIMIT = 50_000  # bytes, small so that tests stay small
#: The name the test client sends as Host (one of the default names)
URL = 'http://localhost:7860'


@pytest.fixture
def predictor():
    return RecordingPredictor(PREDICTION)


@pytest.fixture
def allowed_dir(tmp_path):
    """An allowed folder with an image and a link to a file outside it."""
    inside = tmp_path / 'allowed'
    (inside / 'sub').mkdir(parents=True)
    (inside / 'sub' / 'part.png').write_bytes(
        png_bytes(random_image(20, 30, 0)))
    outside = tmp_path / 'secret.png'
    outside.write_bytes(png_bytes(random_image(8, 8, 1)))
    os.symlink(outside, inside / 'link.png')
    return inside


@pytest.fixture
def client(predictor, allowed_dir):
    settings = DemoSettings(
        max_upload_bytes=LIMIT, max_pixels=100_000,
        allowed_dirs=[str(allowed_dir)], threshold=0.6,
        threshold_source='test', default_score_thr=0.3)
    with TestClient(create_app(predictor, settings), base_url=URL) as c:
        yield c


def post(client, data=None, files=None, **kwargs):
    return client.post('/api/predict', data=data or {}, files=files,
                       **kwargs)


# ----------------------------------------------------------------------
# prompts, verdict, decoding
# ----------------------------------------------------------------------
def test_parse_prompts_lines_and_commas():
    assert parse_prompts('hole in wood, scratch|scuff\n\n  stain  ,\n', 8,
                         50) == ['hole in wood', 'scratch|scuff', 'stain']


@pytest.mark.parametrize('text, reason', [
    ('', 'empty vocabulary'),
    (' ,\n , ', 'empty vocabulary'),
    ('a, b, a', "'a' is given twice"),
    (','.join('abcde'), '5 prompts: at most 4'),
    ('x' * 11, '11 characters > 10'),
])
def test_parse_prompts_refusals(text, reason):
    with pytest.raises(InputRejected, match=reason):
        parse_prompts(text, 4, 10)


def test_decode_image_returns_exact_bgr_pixels():
    rgb = random_image(12, 17, 3)
    bgr = decode_image(png_bytes(rgb), 'a.png', LIMIT, 10_000)
    assert bgr.shape == (12, 17, 3) and bgr.dtype == np.uint8
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])


@pytest.mark.parametrize('data, status, reason', [
    (b'', 400, 'empty file'),
    (b'%PDF-1.4 not an image', 415, 'not an image that can be decoded'),
    (png_bytes(random_image(10, 10, 0))[:60], 415,
     'not an image that can be decoded'),
])
def test_decode_image_refuses_non_images(data, status, reason):
    with pytest.raises(InputRejected, match=reason) as info:
        decode_image(data, 'bad.png', LIMIT, 10_000)
    assert info.value.status == status
    assert "'bad.png'" in info.value.message


def test_decode_image_refuses_gif_and_oversize():
    buf = io.BytesIO()
    Image.new('RGB', (4, 4)).save(buf, format='GIF')
    with pytest.raises(InputRejected, match='GIF images are not accepted'):
        decode_image(buf.getvalue(), 'a.gif', LIMIT, 10_000)
    with pytest.raises(InputRejected,
                       match='upload of 11 bytes is over the limit of 10'):
        decode_image(b'x' * 11, 'big.png', 10, 10_000)


def test_decode_image_checks_pixels_before_decoding(monkeypatch):
    # 3000 x 3000 of one colour: a small file declaring 9 M pixels
    buf = io.BytesIO()
    Image.new('L', (3000, 3000)).save(buf, format='PNG')
    assert len(buf.getvalue()) < LIMIT
    decoded = []
    monkeypatch.setattr(Image.Image, 'convert',
                        lambda *a, **k: decoded.append(1))
    with pytest.raises(InputRejected,
                       match='3000 x 3000 pixels is over the limit'):
        decode_image(buf.getvalue(), 'bomb.png', LIMIT, 1_000_000)
    assert decoded == []


# ----------------------------------------------------------------------
# allowed folders
# ----------------------------------------------------------------------
def test_allowed_paths_resolve_inside_only(allowed_dir, tmp_path):
    allowed = AllowedPaths([str(allowed_dir)])
    inside = os.path.realpath(allowed_dir / 'sub' / 'part.png')
    assert allowed.resolve('sub/part.png') == inside
    assert allowed.resolve(inside) == inside
    assert allowed.resolve('sub/../sub/part.png') == inside
    for path in ('../secret.png', str(tmp_path / 'secret.png'), 'link.png',
                 'sub/../../secret.png', '/etc/passwd'):
        with pytest.raises(InputRejected, match='outside the allowed') as e:
            allowed.resolve(path)
        assert e.value.status == 403
    with pytest.raises(InputRejected, match='no such file'):
        allowed.resolve('sub/missing.png')
    # the link to a file outside is not listed either
    assert allowed.list_images(10) == [os.path.join('sub', 'part.png')]


def test_allowed_paths_read_checks_the_file_actually_opened(
        allowed_dir, tmp_path):
    """A folder swapped for a link between the check and the open (the
    race of check-then-open) does not lead the read outside."""
    allowed = AllowedPaths([str(allowed_dir)])
    part = png_bytes(random_image(20, 30, 0))
    assert allowed.read('sub/part.png', LIMIT) == part
    checked = allowed.resolve('sub/part.png')
    # after the check, 'sub' becomes a link to a folder outside
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'part.png').write_bytes(b'secret bytes')
    os.rename(allowed_dir / 'sub', allowed_dir / 'sub_old')
    os.symlink(elsewhere, allowed_dir / 'sub')
    with pytest.raises(InputRejected, match='not inside the allowed') as e:
        allowed.read_resolved(checked, LIMIT)
    assert e.value.status == 403
    # a final component swapped for a link is not followed at all
    os.remove(allowed_dir / 'sub')
    os.rename(allowed_dir / 'sub_old', allowed_dir / 'sub')
    os.remove(allowed_dir / 'sub' / 'part.png')
    os.symlink(elsewhere / 'part.png', allowed_dir / 'sub' / 'part.png')
    with pytest.raises(InputRejected, match='cannot be opened') as e:
        allowed.read_resolved(checked, LIMIT)
    assert e.value.status == 403


def test_allowed_paths_read_refuses_files_over_the_limit(allowed_dir):
    size = len(png_bytes(random_image(20, 30, 0)))
    with pytest.raises(InputRejected, match=f'larger than {size - 1}') as e:
        AllowedPaths([str(allowed_dir)]).read('sub/part.png', size - 1)
    assert e.value.status == 413


def test_allowed_paths_none_reads_nothing():
    with pytest.raises(InputRejected, match='reads no files'):
        AllowedPaths([]).resolve('a.png')
    assert AllowedPaths([]).list_images(10) == []


def test_allowed_paths_refuse_non_image_names(allowed_dir):
    (allowed_dir / 'notes.txt').write_text('x')
    with pytest.raises(InputRejected, match='not an image file name'):
        AllowedPaths([str(allowed_dir)]).resolve('notes.txt')


def test_every_image_extension_is_listed_and_decoded(tmp_path):
    """The demo lists and decodes every extension the package reads."""
    from mmioc_rtvp.format.file_io import IMAGE_EXTENSIONS
    rgb = random_image(6, 5, 3)
    for ext in IMAGE_EXTENSIONS:
        image = Image.fromarray(rgb)
        if ext == '.pgm':
            image = image.convert('L')
        image.save(tmp_path / f'a{ext.upper()}', lossless=True)
    allowed = AllowedPaths([str(tmp_path)])
    names = allowed.list_images(100)
    assert sorted(names) == sorted(f'a{e.upper()}' for e in IMAGE_EXTENSIONS)
    for name in names:
        bgr = decode_image(allowed.read(name, LIMIT), name, LIMIT, 10_000)
        if name.endswith('.PGM'):
            expected = np.asarray(Image.fromarray(rgb).convert('L'))
            expected = np.repeat(expected[..., None], 3, axis=2)
        elif name.endswith(('.JPG', '.JPEG')):
            assert bgr.shape == (6, 5, 3)
            continue
        else:
            expected = rgb[..., ::-1]
        np.testing.assert_array_equal(bgr, expected, err_msg=name)


# ----------------------------------------------------------------------
# HTTP API
# ----------------------------------------------------------------------
def test_page_and_info(client):
    page = client.get('/')
    assert page.status_code == 200
    assert 'id="detect"' in page.text and 'id="prompts"' in page.text
    info = client.get('/api/info').json()
    assert info['threshold'] == 0.6 and info['max_upload_bytes'] == LIMIT
    assert client.get('/api/examples').json() == {
        'images': [os.path.join('sub', 'part.png')]}


def test_predict_upload(client, predictor):
    rgb = random_image(24, 32, 5)
    res = post(client, {'prompts': 'hole in wood\nscratch on metal',
                        'score_thr': '0.4'},
               files={'image': ('part.png', png_bytes(rgb), 'image/png')})
    assert res.status_code == 200, res.text
    body = res.json()
    # the model saw the decoded image (BGR) and the typed prompts
    (image, prompts), = predictor.calls
    np.testing.assert_array_equal(image, rgb[..., ::-1])
    assert prompts == ['hole in wood', 'scratch on metal']
    assert body['image'] == dict(name='part.png', width=32, height=24)
    # boxes under the display threshold are hidden and counted
    assert [d['score'] for d in body['detections']] == [0.9, 0.5]
    assert body['detections'][0] == dict(
        label='hole in wood', score=0.9, bbox=[1.0, 2.0, 30.0, 40.0])
    assert (body['num_detections'], body['num_hidden']) == (3, 1)
    # the verdict is the predictor's, over all its boxes, hidden or not
    assert (body['verdict'], body['defect_score']) == ('NG', 0.9)
    assert (body['threshold'], body['threshold_source']) == (0.6, 'test')


def test_predict_without_threshold_has_no_verdict():
    predictor = RecordingPredictor(Prediction([], 0.0, None))
    with TestClient(create_app(predictor, DemoSettings()),
                    base_url=URL) as c:
        assert c.get('/api/info').json()['threshold'] is None
        body = post(c, {'prompts': 'a'}, {
            'image': ('a.png', png_bytes(random_image(8, 8, 0)))}).json()
    assert (body['verdict'], body['detections']) == (None, [])


def test_predict_server_path_reads_allowed_image(client, predictor):
    res = post(client, {'prompts': 'a', 'path': 'sub/part.png'})
    assert res.status_code == 200, res.text
    np.testing.assert_array_equal(predictor.calls[0][0],
                                  random_image(20, 30, 0)[..., ::-1])
    img = client.get('/api/image', params={'path': 'sub/part.png'})
    assert img.status_code == 200
    assert img.content == png_bytes(random_image(20, 30, 0))


@pytest.mark.parametrize('path', ['../secret.png', 'link.png', '/etc/passwd',
                                  'sub/../../secret.png'])
def test_paths_outside_allowed_are_refused(client, predictor, path):
    res = post(client, {'prompts': 'a', 'path': path})
    assert res.status_code == 403
    assert res.json()['detail'] == f'{path!r}: outside the allowed folders'
    res = client.get('/api/image', params={'path': path})
    assert res.status_code == 403
    assert predictor.calls == []


@pytest.mark.parametrize('form, files, status, reason', [
    ({'prompts': 'a'}, {'image': ('cv.pdf', b'%PDF-1.4', 'image/png')}, 415,
     "'cv.pdf': not an image that can be decoded"),
    ({'prompts': ' , '}, {'image': ('a.png', b'x', 'image/png')}, 400,
     'empty vocabulary'),
    ({'prompts': 'a'}, None, 400, 'no image'),
    ({'prompts': 'a', 'score_thr': '2'}, {'image': ('a.png', b'x')}, 400,
     'score_thr 2.0: must be in [0, 1]'),
    ({'prompts': 'a'}, {'image': ('big.png', b'\0' * (LIMIT + 1))}, 413,
     f"'big.png': upload of {LIMIT + 1} bytes is over the limit of {LIMIT}"),
])
def test_predict_refusals_name_the_reason(client, predictor, form, files,
                                          status, reason):
    res = post(client, form, files)
    assert res.status_code == status
    assert reason in res.json()['detail']
    assert predictor.calls == []


def test_request_body_over_limit_refused_before_parsing(client, predictor):
    big = b'\0' * (2 * LIMIT + 70_000)
    res = post(client, {'prompts': 'a'}, {'image': ('huge.png', big)})
    assert res.status_code == 413
    assert 'is over the limit of' in res.json()['detail']
    # a chunked body (no Content-Length) is cut off the same way
    res = client.post(
        '/api/predict', content=iter([b'x' * 40_000] * 5),
        headers={'content-type': 'multipart/form-data; boundary=b'})
    assert res.status_code == 413
    assert res.json()['detail'].startswith('request body of more bytes')
    assert predictor.calls == []


def test_predictor_value_error_is_a_message(allowed_dir):
    predictor = RecordingPredictor(
        None, error=ValueError("prompt 'foo' is not in the table"))
    with TestClient(create_app(predictor, DemoSettings()),
                    base_url=URL) as c:
        res = post(c, {'prompts': 'foo'},
                   {'image': ('a.png', png_bytes(random_image(8, 8, 0)))})
    assert res.status_code == 400
    assert res.json()['detail'] == (
        "prediction refused: prompt 'foo' is not in the table")
