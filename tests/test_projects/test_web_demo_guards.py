# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The web demo's request guards, on every route (a route added after the
app is built included): the Host allow-list, the Origin of POSTs, the
bound on requests in progress (503 beyond, before the body is read) and
the security headers. A recording predictor shows that refused requests
never reach the model."""
import base64
import hashlib
import re
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from projects.web_demo.web_demo import (DemoSettings, Detection, Prediction,
                                        create_app)
from projects.web_demo.web_demo.server import STATIC_DIR
from tests.test_projects.web_demo_utils import png_bytes, random_image

PREDICTION = Prediction([Detection('hole in wood', 0.9, (1, 2, 30, 40))],
                        0.9, 'NG')
IMAGE = png_bytes(random_image(20, 30, 0))
FORM = dict(data={'prompts': 'hole in wood'},
            files={'image': ('part.png', IMAGE, 'image/png')})


class BlockingPredictor:
    """Counts calls; each waits until ``release`` is set."""

    def __init__(self, block=False):
        self.calls = 0
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        if not block:
            self.release.set()

    def __call__(self, image, prompts):
        self.calls += 1
        self.entered.release()
        assert self.release.wait(60)
        return PREDICTION


def build(predictor=None, **settings):
    predictor = predictor or BlockingPredictor()
    app = create_app(predictor, DemoSettings(threshold=0.5, **settings))

    @app.get('/api/added_later')
    async def added_later() -> dict:  # a route of a later feature
        return dict(secret='result')

    return app, predictor


@pytest.fixture
def client():
    app, predictor = build()
    with TestClient(app, base_url='http://127.0.0.1:7860') as c:
        c.predictor = predictor
        yield c


ROUTES = [('GET', '/'), ('GET', '/api/info'), ('GET', '/api/examples'),
          ('GET', '/api/image?path=x.png'), ('GET', '/api/added_later'),
          ('GET', '/no/such/route'), ('POST', '/api/predict')]


@pytest.mark.parametrize('method, path', ROUTES)
@pytest.mark.parametrize('host', [
    'evil.example.com', 'evil.example.com:7860', '127.0.0.1.evil.test',
    'localhost@evil.test', '192.168.1.20:7860', ''])
def test_foreign_host_refused_on_every_route(client, method, path, host):
    res = client.request(method, path, headers={'host': host},
                         **(FORM if method == 'POST' else {}))
    assert res.status_code == 400, res.text
    assert res.json()['detail'].startswith(f'Host {host!r} is not a name '
                                           'of this server')
    assert 'secret' not in res.text
    assert client.predictor.calls == 0


@pytest.mark.parametrize('host', ['127.0.0.1', '127.0.0.1:7860',
                                  'LOCALHOST:7860', 'localhost'])
def test_own_names_served(client, host):
    res = client.get('/api/added_later', headers={'host': host})
    assert res.status_code == 200 and res.json() == dict(secret='result')


def test_allowed_hosts_setting(tmp_path):
    app, _ = build(allowed_hosts=['::1', 'demo.lan'])
    with TestClient(app, base_url='http://demo.lan:7860') as c:
        assert c.get('/api/info').status_code == 200
        assert c.get('/api/info', headers={
            'host': '[::1]:7860'}).status_code == 200
        assert c.get('/api/info', headers={
            'host': 'localhost'}).status_code == 400


@pytest.mark.parametrize('origin', [
    'http://evil.test:7860', 'http://127.0.0.1:7861', 'https://127.0.0.1:7860',
    'http://localhost:7860', 'null'])
def test_post_from_another_origin_refused(client, origin):
    """Same site = same scheme, name and port as the request's Host
    (``http://localhost:7860`` is another origin than
    ``http://127.0.0.1:7860`` for the browser too)."""
    res = client.post('/api/predict', headers={'origin': origin}, **FORM)
    assert res.status_code == 403, res.text
    assert res.json()['detail'].startswith(f'Origin {origin!r} is not this '
                                           'server')
    assert client.predictor.calls == 0


@pytest.mark.parametrize('headers', [
    {}, {'origin': 'http://127.0.0.1:7860'},
    {'origin': 'http://127.0.0.1:80', 'host': '127.0.0.1'}])
def test_post_from_own_page_or_no_browser_served(client, headers):
    res = client.post('/api/predict', headers=headers, **FORM)
    assert res.status_code == 200, res.text
    assert client.predictor.calls == 1


def test_get_with_foreign_origin_gives_no_cors_permission(client):
    """A GET is answered (the Host is ours) but never with a CORS header,
    so a page of another site cannot read it."""
    res = client.get('/api/info', headers={'origin': 'http://evil.test'})
    assert res.status_code == 200
    assert not any(k.lower().startswith('access-control-')
                   for k in res.headers)


def _inline_hash(kind):
    with open(f'{STATIC_DIR}/index.html', encoding='utf-8') as f:
        body = re.search(rf'<{kind}>(.*?)</{kind}>', f.read(), re.S).group(1)
    digest = hashlib.sha256(body.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@pytest.mark.parametrize('method, path, headers, status', [
    ('GET', '/', {}, 200), ('GET', '/api/info', {}, 200),
    ('GET', '/no/such/route', {}, 404),
    ('GET', '/api/info', {'host': 'evil.test'}, 400),
    ('POST', '/api/predict', {'origin': 'http://evil.test'}, 403),
    ('POST', '/api/predict', {}, 413),
])
def test_security_headers_on_every_answer(client, method, path, headers,
                                          status):
    form = FORM
    if status == 413:  # a body over the 10 MB default
        form = dict(data=FORM['data'],
                    files={'image': ('big.png', b'\0' * 11 * 2**20)})
    res = client.request(method, path, headers=headers,
                         **(form if method == 'POST' else {}))
    assert res.status_code == status
    assert res.headers['x-content-type-options'] == 'nosniff'
    assert res.headers['x-frame-options'] == 'DENY'
    csp = res.headers['content-security-policy']
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert 'unsafe-inline' not in csp and 'unsafe-eval' not in csp
    # the page's own inline script and style, by hash, and nothing else
    assert f"script-src {_inline_hash('script')};" in csp
    assert f"style-src {_inline_hash('style')};" in csp


# ----------------------------------------------------------------------
# the bound on requests in progress, over a real socket
# ----------------------------------------------------------------------
@pytest.fixture
def served():
    import uvicorn
    predictor = BlockingPredictor(block=True)
    app, _ = build(predictor, max_in_flight=2)
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level='warning', lifespan='off'))
    thread = threading.Thread(target=server.run, kwargs=dict(sockets=[sock]))
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f'http://127.0.0.1:{sock.getsockname()[1]}', predictor
    predictor.release.set()
    server.should_exit = True
    thread.join(30)
    assert not thread.is_alive()


def test_requests_beyond_the_bound_get_503_before_decoding(served):
    url, predictor = served
    results = []

    def post():
        results.append(httpx.post(url + '/api/predict', timeout=60,
                                  **FORM).status_code)

    held = [threading.Thread(target=post) for _ in range(2)]
    for t in held:
        t.start()
    for _ in range(2):  # both are in the model: 2 requests in progress
        assert predictor.entered.acquire(timeout=30)
    # a third (with a body over nothing: its upload is drained, not kept)
    res = httpx.post(url + '/api/predict', timeout=30, **FORM)
    assert res.status_code == 503
    assert res.json()['detail'] == ('server busy: 2 requests in progress '
                                    '(limit 2); try again in a moment')
    assert res.headers['retry-after'] == '2'
    assert res.headers['x-content-type-options'] == 'nosniff'
    assert httpx.get(url + '/api/info', timeout=30).status_code == 503
    assert predictor.calls == 2
    predictor.release.set()
    for t in held:
        t.join(60)
    assert results == [200, 200]
    # room again
    assert httpx.post(url + '/api/predict', timeout=60,
                      **FORM).status_code == 200
    assert predictor.calls == 3


def test_app_allowed_hosts_follow_the_bound_address(monkeypatch):
    from tests.utils.scripts import REPO_ROOT, load_script
    monkeypatch.syspath_prepend(f'{REPO_ROOT}/projects/web_demo')
    app = load_script('projects/web_demo/app.py', 'web_demo_app_hosts')
    args = app.parse_args(['c.py', 'w.pth'])
    assert app.allowed_hosts(args) == ['127.0.0.1', 'localhost']
    args = app.parse_args(['c.py', 'w.pth', '--host', '0.0.0.0',
                           '--allowed-host', 'box.lan', '10.0.0.5'])
    assert app.allowed_hosts(args) == ['localhost', 'box.lan', '10.0.0.5']
