# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Exemplar classes in the web demo (projects/web_demo): boxes on reference
images added, listed and deleted over the API, refused when bad, mixed with
typed text classes in a prediction; an ``--exemplars`` file at start; and a
real browser (Debian's headless chromium) in which a box is dragged with
the mouse on a reference image and its class then used by a prediction.

The API tests run the app in this process over a tiny random YOLO-World
with an exemplar encoder (and one without, for the refusal); the browser
test starts ``app.py`` as a user would."""
import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from mmioc_rtvp.prompts import EXEMPLAR, PromptRecord, save_prompt_embeddings
from projects.web_demo.web_demo import DemoSettings, ExemplarSet, create_app
from projects.web_demo.web_demo.inferencer_predictor import \
    InferencerPredictor
from tests.test_projects.test_web_demo_app import (  # noqa: F401
    browser, read_rows, run_in_page)
from tests.test_projects.web_demo_utils import (APP, PROMPTS, REPO_ROOT,
                                                app_process, detections_key,
                                                free_port, png_bytes,
                                                random_image,
                                                save_random_checkpoint,
                                                write_tiny_yolo_world)

URL = 'http://localhost:7860'
#: The reference image (160 x 96) and a box on its dark rectangle.
REF_SIZE = (96, 160)
BOX = (53.0, 24.0, 80.0, 48.0)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('web_demo_exemplars')
    config = write_tiny_yolo_world(str(tmp), exemplar=True)
    checkpoint = save_random_checkpoint(config, str(tmp / 'tiny_ex.pth'))
    plain_config = write_tiny_yolo_world(str(tmp))
    plain_checkpoint = save_random_checkpoint(plain_config,
                                              str(tmp / 'tiny.pth'))
    allowed = tmp / 'allowed'
    allowed.mkdir()
    (allowed / 'ref.png').write_bytes(png_bytes(random_image(*REF_SIZE, 7)))
    (allowed / 'ref2.png').write_bytes(png_bytes(random_image(*REF_SIZE, 8)))
    query = tmp / 'query.png'
    query.write_bytes(png_bytes(random_image(80, 120, 11)))
    return dict(tmp=tmp, config=config, checkpoint=checkpoint,
                plain_config=plain_config, plain_checkpoint=plain_checkpoint,
                allowed=str(allowed), ref=str(allowed / 'ref.png'),
                ref2=str(allowed / 'ref2.png'), query=str(query))


@pytest.fixture(scope='module')
def predictor(files):
    return InferencerPredictor.from_files(files['config'],
                                          files['checkpoint'])


def settings(files, **kwargs):
    return DemoSettings(allowed_dirs=[files['allowed']],
                        model_name='tiny_yolo_world_exemplar.py', **kwargs)


@pytest.fixture
def served(files, predictor):
    """A fresh app (empty exemplar set) and its set, for inspection."""
    exemplars = ExemplarSet(predictor.fingerprint, predictor.embed_dims)
    app = create_app(predictor, settings(files), exemplars)
    with TestClient(app, base_url=URL) as client:
        yield client, exemplars


def add(client, class_name, box, path=None, upload=None, **kwargs):
    data = {'class_name': class_name, 'box': box}
    files = None
    if path is not None:
        data['path'] = path
    if upload is not None:
        with open(upload, 'rb') as f:
            files = {'image': (os.path.basename(upload), f.read(),
                               'image/png')}
    return client.post('/api/exemplar', data=data, files=files, **kwargs)


def query(client, prompts, **data):
    with open(client.query_image, 'rb') as f:
        image = f.read()
    return client.post('/api/predict',
                       data=dict(prompts=prompts, score_thr='0', **data),
                       files={'image': ('query.png', image, 'image/png')})


def test_add_list_delete(served, files, predictor):
    from mmioc_rtvp.apis.exemplar_prompts import encode_exemplar_refs
    from mmioc_rtvp.prompts.exemplar_refs import ExemplarRef
    client, exemplars = served
    res = add(client, 'pinhole', '53, 24, 80, 48', upload=files['ref'])
    assert res.status_code == 200, res.text
    body = res.json()
    assert body['exemplars'] == [
        dict(id=body['added'], record=0, class_name='pinhole',
             kind='exemplar', source='ref.png', box=list(BOX),
             origin='page', used=True, outlier=False, loo_cosine=None)
    ]
    assert body['classes'][0]['name'] == 'pinhole'
    # the embedding is the one tools/make_exemplars.py computes for the box
    expected = encode_exemplar_refs(
        predictor.inferencer.model,
        [ExemplarRef('pinhole', files['ref'], BOX, 'test')]).embeddings
    np.testing.assert_allclose(exemplars.snapshot().embeddings, expected,
                               atol=1e-5)
    assert abs(np.linalg.norm(expected[0]) - 1) < 1e-5
    # a server image of the allowed folder, a JSON box; another class
    assert add(client, 'pinhole', '[10, 12, 40, 44]',
               path='ref2.png').status_code == 200
    res = add(client, 'burn mark', '0 0 30 20', path='ref.png')
    assert res.status_code == 200
    listing = client.get('/api/exemplars').json()
    assert [(e['class_name'], e['source']) for e in listing['exemplars']] == [
        ('pinhole', 'ref.png'), ('pinhole', 'ref2.png'),
        ('burn mark', 'ref.png')]
    assert [(c['name'], c['entries']) for c in listing['classes']] == [
        ('pinhole', 2), ('burn mark', 1)]
    first = listing['exemplars'][0]['id']
    res = client.delete(f'/api/exemplars/{first}')
    assert res.status_code == 200 and res.json()['deleted'] == 1
    assert [e['source'] for e in res.json()['exemplars']] == [
        'ref2.png', 'ref.png']
    assert client.delete(f'/api/exemplars/{first}').status_code == 404
    res = client.delete('/api/exemplars')
    assert res.json()['deleted'] == 2 and res.json()['exemplars'] == []
    assert exemplars.snapshot() is None


def test_outlier_is_flagged_in_the_list(files, predictor):
    """Three agreeing exemplars and a wrong one: the list flags the wrong
    one as excluded, as tools/make_exemplars.py would report it."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal(16)
    rows = [base + 0.05 * rng.standard_normal(16) for _ in range(3)]
    rows.append(-base)
    exemplars = ExemplarSet(predictor.fingerprint, predictor.embed_dims)
    for i, row in enumerate(rows):
        exemplars.add(PromptRecord('dent', EXEMPLAR, f'r{i}.png',
                                   (0, 0, 5, 5)),
                      row / np.linalg.norm(row))
    with TestClient(create_app(predictor, settings(files), exemplars),
                    base_url=URL) as client:
        listing = client.get('/api/exemplars').json()
    assert [e['outlier'] for e in listing['exemplars']] == [
        False, False, False, True]
    assert [e['used'] for e in listing['exemplars']] == [True] * 3 + [False]
    assert listing['exemplars'][3]['loo_cosine'] < 0
    assert listing['classes'] == [dict(name='dent', kind='exemplar', used=3,
                                       outliers=1, entries=4, warnings=[])]


@pytest.mark.parametrize('class_name, box, message', [
    ('pinhole', '150, 10, 200, 50',
     "'ref.png': box [150, 10, 200, 50] lies outside the 160x96 image"),
    ('pinhole', '10, 10, 10, 40',
     "'ref.png': box [10, 10, 10, 40] has zero area"),
    ('pinhole', '40, 30, 10, 5', 'has zero area'),
    ('pinhole', '1, 2, 3', "box '1, 2, 3': expected four numbers"),
    ('pinhole', 'nan, 1, 5, 5', 'is not finite'),
    ('', '1, 2, 30, 40', 'no class name'),
    ('pin, hole', '1, 2, 30, 40', "class name 'pin, hole': no comma"),
])
def test_bad_exemplar_refused_in_one_line(served, class_name, box, message):
    client, exemplars = served
    res = add(client, class_name, box, path='ref.png')
    assert res.status_code == 400, res.text
    detail = res.json()['detail']
    assert message in detail and '\n' not in detail
    assert len(exemplars) == 0


def test_exemplar_image_refusals(served, files):
    client, exemplars = served
    res = add(client, 'pinhole', '1, 2, 30, 40', path='../query.png')
    assert res.status_code == 403
    assert 'outside the allowed folders' in res.json()['detail']
    res = client.post('/api/exemplar', data={'class_name': 'pinhole',
                                             'box': '1, 2, 30, 40'},
                      files={'image': ('notes.png', b'not an image')})
    assert res.status_code == 415
    res = add(client, 'pinhole', '1, 2, 30, 40')
    assert res.status_code == 400 and 'no image' in res.json()['detail']
    assert len(exemplars) == 0


def test_bounds_on_classes_and_exemplars(files, predictor):
    exemplars = ExemplarSet(predictor.fingerprint, predictor.embed_dims,
                            max_classes=1, max_exemplars=2)
    app = create_app(predictor, settings(files), exemplars)
    with TestClient(app, base_url=URL) as client:
        assert add(client, 'pinhole', '1,2,30,40',
                   path='ref.png').status_code == 200
        res = add(client, 'burn mark', '1,2,30,40', path='ref.png')
        assert res.status_code == 409
        assert res.json()['detail'] == (
            "1 exemplar classes already: at most 1; add 'burn mark' after "
            'deleting a class')
        assert add(client, 'pinhole', '5,2,30,40',
                   path='ref.png').status_code == 200
        res = add(client, 'pinhole', '9,2,30,40', path='ref.png')
        assert res.status_code == 409
        assert res.json()['detail'] == ('2 exemplars already: at most 2; '
                                         'delete some first')
    assert len(exemplars) == 2


def test_model_without_exemplar_encoder_refuses_clearly(files):
    plain = InferencerPredictor.from_files(files['plain_config'],
                                           files['plain_checkpoint'])
    assert not plain.has_exemplar_encoder
    app = create_app(plain, settings(files))
    with TestClient(app, base_url=URL) as client:
        assert client.get('/api/info').json()['exemplar_encoder'] is False
        res = add(client, 'pinhole', '1, 2, 30, 40', path='ref.png')
        assert res.status_code == 400
        assert res.json()['detail'].startswith(
            'this model has no exemplar encoder (tiny_yolo_world_exemplar.py)')
        assert client.get('/api/exemplars').json()['exemplars'] == []


def test_new_routes_behind_host_and_origin_checks(served):
    client, exemplars = served
    res = add(client, 'pinhole', '1, 2, 30, 40', path='ref.png',
              headers={'host': 'evil.test:7860'})
    assert res.status_code == 400
    assert client.get('/api/exemplars',
                      headers={'host': 'evil.test'}).status_code == 400
    res = add(client, 'pinhole', '1, 2, 30, 40', path='ref.png',
              headers={'origin': 'http://evil.test:7860'})
    assert res.status_code == 403
    assert len(exemplars) == 0
    assert add(client, 'pinhole', '1, 2, 30, 40',
               path='ref.png').status_code == 200
    res = client.request('DELETE', '/api/exemplars',
                         headers={'origin': 'http://evil.test:7860'})
    assert res.status_code == 403 and len(exemplars) == 1
    res = client.get('/api/exemplars')
    assert "script-src 'sha256-" in res.headers['content-security-policy']


def detections_of(inferencer, image_path, texts):
    """(label, score, bbox) of the inferencer's detections, best first."""
    from mmioc_rtvp.apis.inference_inputs import read_image
    out = inferencer(read_image(image_path), texts=texts, no_save_vis=True)
    pred = out['predictions'][0]
    order = np.argsort(-np.asarray(pred['scores']), kind='stable')
    return [(pred['label_names'][i], float(pred['scores'][i]),
             tuple(float(v) for v in pred['bboxes'][i]))
            for i in order.tolist()]


def test_predict_mixes_text_and_exemplar_classes(served, files, predictor):
    """Typed text classes plus exemplar classes; a class typed AND
    exemplified is fused; the answer says which. The detections are those
    of MMIOCInferencer given the same embeddings as a file."""
    from mmioc_rtvp.apis import MMIOCInferencer
    client, exemplars = served
    client.query_image = files['query']
    for name, box, path in ((PROMPTS[0], '53, 24, 80, 48', 'ref.png'),
                            ('pinhole', '10, 12, 40, 44', 'ref2.png'),
                            ('pinhole', '60, 30, 75, 45', 'ref.png')):
        assert add(client, name, box, path=path).status_code == 200
    res = query(client, f'{PROMPTS[0]}\n{PROMPTS[1]}')
    assert res.status_code == 200, res.text
    body = res.json()
    assert [(c['name'], c['source'], c['exemplars'])
            for c in body['classes']] == [(PROMPTS[0], 'both', 1),
                                          (PROMPTS[1], 'text', 0),
                                          ('pinhole', 'exemplars', 2)]
    assert body['classes'][0]['prompts'] == [PROMPTS[0]]
    assert {d['label'] for d in body['detections']} <= {
        PROMPTS[0], PROMPTS[1], 'pinhole'}
    path = str(files['tmp'] / 'served.npz')
    snap = exemplars.snapshot()
    save_prompt_embeddings(path, snap.embeddings, snap.records,
                           snap.fingerprint)
    reference = MMIOCInferencer(
        files['config'], files['checkpoint'], palette='none',
        show_progress=False, exemplars=path,
        texts=[PROMPTS[0], PROMPTS[1]])
    expected = detections_of(reference, files['query'], None)
    assert detections_key(body['detections']) == expected
    assert body['num_detections'] == len(expected)
    # without the exemplars: text classes only, as before any was added
    res = query(client, f'{PROMPTS[0]}\n{PROMPTS[1]}', use_exemplars='0')
    text_only = res.json()
    assert [(c['name'], c['source']) for c in text_only['classes']] == [
        (PROMPTS[0], 'text'), (PROMPTS[1], 'text')]
    reference.clear_exemplars()
    assert detections_key(text_only['detections']) == detections_of(
        reference, files['query'], [PROMPTS[0], PROMPTS[1]])
    # no text: the exemplar classes alone
    body = query(client, '').json()
    assert [(c['name'], c['source']) for c in body['classes']] == [
        (PROMPTS[0], 'exemplars'), ('pinhole', 'exemplars')]
    # all deleted: an empty vocabulary again
    client.delete('/api/exemplars')
    res = query(client, ' ')
    assert res.status_code == 400
    assert 'empty vocabulary' in res.json()['detail']


def other_model_file(path, dim=16):
    """An exemplar file of another model (its fingerprint)."""
    row = np.ones((1, dim), np.float32) / np.sqrt(dim)
    return save_prompt_embeddings(
        path, row, [PromptRecord('dent', EXEMPLAR, 'x.png', (0, 0, 4, 4))],
        'sha256:' + '0' * 64, 'test')


def own_model_file(path, predictor, classes=('burn mark', )):
    """An exemplar file of the demo's model: one unit row per class."""
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((len(classes), predictor.embed_dims))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return save_prompt_embeddings(
        path, rows.astype(np.float32),
        [PromptRecord(c, EXEMPLAR, 'line.png', (1, 2, 30, 40))
         for c in classes], predictor.fingerprint, 'test')


def test_exemplar_file_at_start(files, predictor):
    path = str(files['tmp'] / 'start.npz')
    own_model_file(path, predictor)
    exemplars = ExemplarSet.from_file(path, predictor.fingerprint,
                                      predictor.embed_dims)
    with TestClient(create_app(predictor, settings(files), exemplars),
                    base_url=URL) as client:
        client.query_image = files['query']
        listing = client.get('/api/exemplars').json()
        assert listing['file'] == path
        assert [(e['class_name'], e['origin'])
                for e in listing['exemplars']] == [('burn mark', 'file')]
        body = query(client, PROMPTS[2]).json()
        assert [(c['name'], c['source']) for c in body['classes']] == [
            (PROMPTS[2], 'text'), ('burn mark', 'exemplars')]
    two = own_model_file(str(files['tmp'] / 'two.npz'), predictor,
                         ('burn mark', 'dent'))
    with pytest.raises(ValueError, match='2 classes and 2 entries, the demo '
                       'holds at most 1 classes'):
        ExemplarSet.from_file(two.path, predictor.fingerprint,
                              predictor.embed_dims, max_classes=1)


def test_app_refuses_another_models_file_at_start(files):
    """``app.py ... --exemplars FILE`` with a file of another model stops
    with one line naming the file, before serving."""
    path = str(files['tmp'] / 'other.npz')
    other_model_file(path)
    res = subprocess.run(
        [sys.executable, APP, files['config'], files['checkpoint'],
         '--port', str(free_port()), '--exemplars', path],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f'web_demo: {path}: made by another model '
                           '(fingerprint 000000000000'), res.stderr[-2000:]
    assert 'serving' not in res.stdout


# ----------------------------------------------------------------------
# the browser: drag a box on a reference image
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def server(files, predictor):
    """``app.py`` with the exemplar model, an ``--exemplars`` file of it
    (class 'burn mark') and the reference images' folder allowed."""
    start_file = str(files['tmp'] / 'browser_start.npz')
    own_model_file(start_file, predictor)
    with app_process([files['config'], files['checkpoint'],
                      '--allowed-dir', files['allowed'],
                      '--exemplars', start_file],
                     str(files['tmp'] / 'server.log')) as served:
        yield served


def drag_box(driver, box, size):
    """Drag ``box`` (x1, y1, x2, y2 in image pixels) on the reference
    canvas with the mouse (press, move, release)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    canvas = driver.find_element(By.ID, 'ref-canvas')
    # all of it in view: WebDriver's origin for an element is the centre of
    # its visible part
    width, height = driver.execute_script(
        'arguments[0].scrollIntoView({block: "center"});'
        'const r = arguments[0].getBoundingClientRect();'
        'return [r.width, r.height];', canvas)
    border = float(canvas.get_attribute('clientLeft') or 0)
    sx = (width - 2 * border) / size[1]
    sy = (height - 2 * border) / size[0]
    x1, y1, x2, y2 = box
    (ActionChains(driver)
     .move_to_element_with_offset(canvas,
                                  round(border + x1 * sx - width / 2),
                                  round(border + y1 * sy - height / 2))
     .click_and_hold()
     .move_by_offset(round((x2 - x1) * sx / 2), round((y2 - y1) * sy / 2))
     .move_by_offset(round((x2 - x1) * sx / 2), round((y2 - y1) * sy / 2))
     .release()
     .perform())
    return sx


def test_browser_drag_box_add_class_and_detect(server, files, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url = server['url']
    browser.get(url + '/')
    # the class of the --exemplars file is listed from the start
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, '#exemplar-list li.exemplar-class'))
    names = [li.get_attribute('data-name') for li in browser.find_elements(
        By.CSS_SELECTOR, '#exemplar-list li.exemplar-class')]
    assert names == ['burn mark']
    browser.find_element(By.ID, 'ref-image').send_keys(files['ref'])
    WebDriverWait(browser, 30).until(lambda d: d.find_element(
        By.ID, 'ref-canvas').get_attribute('data-ready') == '1')
    scale = drag_box(browser, BOX, REF_SIZE)
    assert scale > 1  # the canvas is shown larger than the image
    shown = json.loads(browser.find_element(By.ID, 'ref-box').get_attribute(
        'data-box'))
    assert np.abs(np.array(shown) - BOX).max() <= 1, shown
    browser.find_element(By.ID, 'ref-class').send_keys('pinhole')
    browser.find_element(By.ID, 'add-exemplar').click()
    WebDriverWait(browser, 120).until(lambda d: d.find_element(
        By.ID, 'ref-message').get_attribute('data-state') in ('done',
                                                              'error'))
    assert browser.find_element(By.ID, 'ref-message').text == ''
    items = browser.find_elements(
        By.CSS_SELECTOR, '#exemplar-list li[data-name="pinhole"] li.exemplar')
    assert [json.loads(i.get_attribute('data-box')) for i in items] == [
        shown]
    # the server holds what the page drew, in the image's pixels
    listing = httpx.get(url + '/api/exemplars').json()
    assert [(e['class_name'], e['source'], e['box'], e['origin'])
            for e in listing['exemplars']] == [
                ('burn mark', 'line.png', [1, 2, 30, 40], 'file'),
                ('pinhole', 'ref.png', shown, 'page')]
    # a prediction on another image uses it
    with open(files['query'], 'rb') as f:
        image = f.read()
    answer = httpx.post(url + '/api/predict',
                        data={'prompts': PROMPTS[0], 'score_thr': '0'},
                        files={'image': ('query.png', image)},
                        timeout=120).json()
    assert [(c['name'], c['source']) for c in answer['classes']] == [
        (PROMPTS[0], 'text'), ('burn mark', 'exemplars'),
        ('pinhole', 'exemplars')]
    text_only = httpx.post(url + '/api/predict',
                           data={'prompts': PROMPTS[0], 'score_thr': '0',
                                 'use_exemplars': '0'},
                           files={'image': ('query.png', image)},
                           timeout=120).json()
    assert (detections_key(answer['detections']) !=
            detections_key(text_only['detections']))
    expected = answer['detections'][:5]
    state = run_in_page(browser, url, files['query'], PROMPTS[0],
                        expected[-1]['score'])
    assert state == 'done', browser.find_element(By.ID, 'message').text
    assert read_rows(browser)[1] == detections_key(
        [d for d in answer['detections']
         if d['score'] >= expected[-1]['score']])
    sources = [(r.find_element(By.CLASS_NAME, 'name').text,
                r.get_attribute('data-source'))
               for r in browser.find_elements(By.CSS_SELECTOR,
                                              '#classes tr.class-source')]
    assert sources == [(PROMPTS[0], 'text'), ('burn mark', 'exemplars'),
                       ('pinhole', 'exemplars')]
    # deleted from the page: gone from the server
    browser.find_element(
        By.CSS_SELECTOR,
        '#exemplar-list li[data-name="pinhole"] button.delete-exemplar'
    ).click()
    WebDriverWait(browser, 30).until(lambda d: not d.find_elements(
        By.CSS_SELECTOR, '#exemplar-list li[data-name="pinhole"]'))
    assert [e['class_name'] for e in httpx.get(
        url + '/api/exemplars').json()['exemplars']] == ['burn mark']
