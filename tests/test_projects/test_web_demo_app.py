# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""End-to-end tests of projects/web_demo: ``app.py`` started as a user would
(tiny random YOLO-World + a checkpoint saved here, 127.0.0.1, free port),
8 concurrent requests, and a real browser - Debian's headless chromium
driven by selenium through /usr/bin/chromedriver - that uploads an image,
types prompts, clicks and reads the boxes back from the page."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.test_projects.web_demo_utils import (APP, PROMPTS, app_process,
                                                detections_key, free_port,
                                                png_bytes, random_image,
                                                save_random_checkpoint,
                                                write_tiny_yolo_world)

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
INSTALL_HINT = ('install them with `bash tools/install.sh` (apt-get install '
                'chromium chromium-driver)')
EVIL = 'evil.test'
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--window-size=1280,1000',
                  # a name of another site that resolves to this machine
                  f'--host-resolver-rules=MAP {EVIL} 127.0.0.1')
#: Image-level OK/NG threshold, in the file the calibration tool writes next
#: to the checkpoint.
THRESHOLD = 0.02
MAX_UPLOAD = 2**20  # --max-upload-mb 1


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    from mmioc_rtvp.apis import OKNGThreshold, default_threshold_file
    tmp = tmp_path_factory.mktemp('web_demo')
    config = write_tiny_yolo_world(str(tmp))
    checkpoint = save_random_checkpoint(config, str(tmp / 'tiny.pth'))
    OKNGThreshold(threshold=THRESHOLD).dump(default_threshold_file(checkpoint))
    image = tmp / 'part.png'
    image.write_bytes(png_bytes(random_image(96, 160, 7)))
    (tmp / 'notes.png').write_text('not an image\n')
    # over the server's --max-upload-mb 1
    (tmp / 'big.png').write_bytes(b'\0' * (MAX_UPLOAD + 1))
    allowed = tmp / 'allowed'
    allowed.mkdir()
    (allowed / 'shelf.png').write_bytes(png_bytes(random_image(80, 120, 9)))
    return dict(tmp=tmp, config=config, checkpoint=checkpoint,
                image=str(image), text=str(tmp / 'notes.png'),
                big=str(tmp / 'big.png'),
                allowed=str(allowed))


@pytest.fixture(scope='module')
def server(files):
    """``python projects/web_demo/app.py CONFIG CKPT --port P --allowed-dir
    DIR --max-upload-mb 1`` (no --host: the default binding is under test;
    no threshold option: the calibrated file next to the checkpoint is)."""
    with app_process([files['config'], files['checkpoint'],
                      '--allowed-dir', files['allowed'],
                      '--max-upload-mb', '1'],
                     str(files['tmp'] / 'server.log')) as served:
        yield served


def predict(url, image_bytes, prompts, score_thr=0.0, name='part.png'):
    res = httpx.post(
        url + '/api/predict',
        data={'prompts': '\n'.join(prompts), 'score_thr': str(score_thr)},
        files={'image': (name, image_bytes, 'image/png')}, timeout=120)
    assert res.status_code == 200, res.text
    return res.json()


def listening_addresses(port):
    """Local addresses of the TCP sockets listening on ``port``
    (/proc/net/tcp and tcp6, hex as the kernel writes them)."""
    found = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        if not osp.exists(table):
            continue
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, hex_port = local.split(':')
                if state == '0A' and int(hex_port, 16) == port:
                    found.append(addr)
    return found


def test_app_binds_loopback_only_by_default(server):
    # 0100007F is 127.0.0.1 (little-endian hex); 00000000 would be 0.0.0.0
    assert listening_addresses(server['port']) == ['0100007F']


def test_app_reads_the_calibrated_threshold_file(server, files):
    info = httpx.get(server['url'] + '/api/info').json()
    assert info['threshold'] == THRESHOLD
    assert info['threshold_source'] == osp.splitext(
        files['checkpoint'])[0] + '.okng.json'
    assert info['model'] == 'tiny_yolo_world.py'


@pytest.mark.parametrize('args, message', [
    (['--threshold', '2'], '--threshold 2.0: not in [0, 1]'),
    (['--allowed-dir', '/no/such/dir'], "'/no/such/dir': not a directory"),
    (['--threshold-file', '/no/file.json'],
     'no such threshold file: /no/file.json'),
])
def test_app_refuses_bad_arguments_before_loading(files, args, message):
    res = subprocess.run(
        [sys.executable, APP, files['config'], files['checkpoint'], *args],
        capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert message in res.stderr


def test_real_model_boxes_lie_in_the_image(server, files):
    with open(files['image'], 'rb') as f:
        body = predict(server['url'], f.read(), PROMPTS[:3])
    assert body['image'] == dict(name='part.png', width=160, height=96)
    dets = body['detections']
    assert dets and body['num_hidden'] == 0
    assert {d['label'] for d in dets} <= set(PROMPTS[:3])
    boxes = np.array([d['bbox'] for d in dets])
    assert (boxes[:, :2] >= -1e-3).all() and (boxes[:, 2] <= 160.001).all()
    assert (boxes[:, 3] <= 96.001).all()
    scores = [d['score'] for d in dets]
    assert scores == sorted(scores, reverse=True)
    assert body['verdict'] == ('NG' if max(scores) >= THRESHOLD else 'OK')


def test_prompt_ensemble_is_one_class_named_by_its_first_prompt(server,
                                                                files):
    with open(files['image'], 'rb') as f:
        body = predict(server['url'], f.read(),
                       [f'{PROMPTS[0]}|{PROMPTS[1]}', PROMPTS[2]])
    assert body['prompts'] == [f'{PROMPTS[0]}|{PROMPTS[1]}', PROMPTS[2]]
    labels = {d['label'] for d in body['detections']}
    assert labels and labels <= {PROMPTS[0], PROMPTS[2]}


def test_unknown_prompt_refused_with_message(server, files):
    with open(files['image'], 'rb') as f:
        res = httpx.post(server['url'] + '/api/predict',
                         data={'prompts': 'rust on a bolt'},
                         files={'image': ('part.png', f.read())}, timeout=60)
    assert res.status_code == 400
    assert 'rust on a bolt' in res.json()['detail']


@pytest.mark.parametrize('extra', [0, 3 * MAX_UPLOAD])
def test_oversized_upload_refused_over_the_network(server, extra):
    """Over the socket, the client reads the 413 message (the refused body
    is drained, not left unread), for a file just over the upload limit and
    for a body well over the request limit."""
    res = httpx.post(
        server['url'] + '/api/predict', data={'prompts': PROMPTS[0]},
        files={'image': ('big.png', b'\0' * (MAX_UPLOAD + 1 + extra))},
        timeout=60)
    assert res.status_code == 413
    assert 'is over the limit of' in res.json()['detail']
    if not extra:
        assert res.json()['detail'].startswith("'big.png': upload of")


def test_eight_concurrent_requests_all_answered(server):
    """8 requests at once (different images and vocabularies) are all
    answered, each exactly as when sent alone: the vocabulary of one never
    leaks into another."""
    jobs = [(png_bytes(random_image(64 + 8 * i, 96, 100 + i)),
             [PROMPTS[(i + j) % len(PROMPTS)] for j in range(1 + i % 3)])
            for i in range(8)]
    alone = [predict(server['url'], img, prompts) for img, prompts in jobs]
    results = [None] * 8
    barrier = threading.Barrier(8)

    def send(i):
        barrier.wait()
        results[i] = predict(server['url'], *jobs[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    for i in range(8):
        assert results[i] is not None, f'request {i} got no answer'
        assert results[i]['prompts'] == jobs[i][1]
        assert (detections_key(results[i]['detections']) ==
                detections_key(alone[i]['detections'])), f'request {i}'


# ----------------------------------------------------------------------
# the browser
# ----------------------------------------------------------------------
def require_browser(chromium=CHROMIUM, chromedriver=CHROMEDRIVER):
    """FAIL (never skip) with the install hint when the browser is missing:
    a browser test that silently does not run proves nothing."""
    missing = [p for p in (chromium, chromedriver) if not osp.exists(p)]
    if missing:
        pytest.fail(f'browser test: {", ".join(missing)} not found; '
                    f'{INSTALL_HINT}')


def test_missing_browser_fails_with_install_hint(tmp_path):
    with pytest.raises(pytest.fail.Exception,
                       match='chromium not found; install them with `bash '
                       'tools/install.sh`'):
        require_browser(chromium=str(tmp_path / 'chromium'))


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    require_browser()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        pytest.fail(f'browser test: selenium missing ({err}); '
                    'pip install -r requirements/tests.txt')
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp('chromium_profile')
    options.add_argument(f'--user-data-dir={profile}')
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def run_in_page(driver, url, image, prompts, score_thr, example=None):
    """Open the page, choose ``image`` (a file to upload) or ``example`` (a
    server image), type ``prompts`` and the display threshold, click Detect
    and wait for the answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    driver.get(url + '/')
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, 'score-thr').get_attribute('value'))
    if image is not None:
        driver.find_element(By.ID, 'image').send_keys(image)
    if example is not None:
        WebDriverWait(driver, 30).until(lambda d: len(
            d.find_elements(By.CSS_SELECTOR, '#example option')) > 1)
        Select(driver.find_element(By.ID, 'example')).select_by_value(example)
    box = driver.find_element(By.ID, 'prompts')
    box.clear()
    box.send_keys(prompts)
    thr = driver.find_element(By.ID, 'score-thr')
    thr.clear()
    thr.send_keys(repr(score_thr))
    driver.find_element(By.ID, 'detect').click()
    WebDriverWait(driver, 120).until(
        lambda d: d.find_element(By.ID, 'status').get_attribute(
            'data-state') in ('done', 'error'))
    return driver.find_element(By.ID, 'status').get_attribute('data-state')


def read_rows(driver):
    """(label, score, bbox) of every box row of the page."""
    from selenium.webdriver.common.by import By
    rows = driver.find_elements(By.CSS_SELECTOR, '#detections tr.detection')
    return rows, [(row.find_element(By.CLASS_NAME, 'label').text,
                   float(row.get_attribute('data-score')),
                   tuple(json.loads(row.get_attribute('data-bbox'))))
                  for row in rows]


def test_browser_upload_prompts_click_read_boxes(server, files, browser):
    from selenium.webdriver.common.by import By
    prompts = list(PROMPTS[:2])
    with open(files['image'], 'rb') as f:
        expected = predict(server['url'], f.read(), prompts)['detections']
    assert len(expected) >= 5
    # show the 5 best boxes: the display threshold is the 5th score
    thr = expected[4]['score']
    shown = [d for d in expected if d['score'] >= thr]
    state = run_in_page(browser, server['url'], files['image'],
                        f'{prompts[0]},\n{prompts[1]}', thr)
    assert state == 'done', browser.find_element(By.ID, 'message').text
    rows, page = read_rows(browser)
    assert page == detections_key(shown)
    for row, det in zip(rows, shown):
        assert row.find_element(By.CLASS_NAME, 'score').text == (
            f"{det['score']:.3f}")
        assert row.find_element(By.CLASS_NAME, 'box').text == ', '.join(
            f'{v:.1f}' for v in det['bbox'])
    rects = browser.find_elements(By.CSS_SELECTOR, '#overlay rect')
    assert len(rects) == len(shown)
    verdict = browser.find_element(By.ID, 'verdict').text
    assert verdict == ('NG' if expected[0]['score'] >= THRESHOLD else 'OK')
    assert browser.find_element(By.ID, 'defect-score').text == (
        f"defect score {expected[0]['score']:.3f}")
    shot = files['tmp'] / 'web_demo.png'
    assert browser.save_screenshot(str(shot))
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert('RGB')).reshape(-1, 3).astype(int)
    # the first box is drawn in the page's first colour, #e6194b
    assert (np.abs(pixels - (0xe6, 0x19, 0x4b)).max(1) <= 8).any()
    keep = os.environ.get('WEB_DEMO_SCREENSHOT')
    if keep:
        shutil.copy(shot, keep)


def test_browser_server_image_of_allowed_folder(server, browser):
    from selenium.webdriver.common.by import By
    ensemble = f'{PROMPTS[2]}|{PROMPTS[3]}'  # one class, named PROMPTS[2]
    res = httpx.post(server['url'] + '/api/predict',
                     data={'prompts': ensemble, 'path': 'shelf.png',
                           'score_thr': '0'}, timeout=120)
    assert res.status_code == 200, res.text
    expected = res.json()['detections'][:3]
    state = run_in_page(browser, server['url'], None, ensemble,
                        expected[-1]['score'], example='shelf.png')
    assert state == 'done', browser.find_element(By.ID, 'message').text
    assert read_rows(browser)[1] == detections_key(expected)
    # the class's colour is the first one, as for a single prompt
    strokes = {rect.get_attribute('stroke') for rect in
               browser.find_elements(By.CSS_SELECTOR, '#overlay rect')}
    assert strokes == {'#e6194b'}
    # the page shows the image it read from the allowed folder
    assert browser.execute_script(
        'return document.getElementById("preview").naturalWidth') == 120


@pytest.mark.parametrize('which, prompts, message', [
    ('text', 'hole in wood', "'notes.png': not an image"),
    ('image', ' , ', 'empty vocabulary'),
    ('big', 'hole in wood', f"'big.png': {MAX_UPLOAD + 1} bytes is over "
     f'the limit of {MAX_UPLOAD} bytes'),
])
def test_browser_shows_refusals(server, files, browser, which, prompts,
                                message):
    from selenium.webdriver.common.by import By
    state = run_in_page(browser, server['url'], files[which], prompts, 0.3)
    assert state == 'error'
    assert message in browser.find_element(By.ID, 'message').text
    assert browser.find_elements(By.CSS_SELECTOR, '#detections tbody tr') == []


def test_browser_fetch_over_limit_reads_the_413_message(server, browser):
    """A body over the limit sent by the browser itself (past the page's
    own size check) gets the server's message, not a failed fetch: the
    server drains the refused body before answering (without draining,
    chromium reported "Failed to fetch" for a 2 MB body here)."""
    browser.get(server['url'] + '/')
    browser.set_script_timeout(60)
    answer = browser.execute_async_script('''
        const done = arguments[arguments.length - 1];
        const form = new FormData();
        form.append("prompts", "hole in wood");
        form.append("image", new Blob([new Uint8Array(arguments[0])]),
                    "big.png");
        fetch("api/predict", {method: "POST", body: form})
          .then((r) => r.json().then((j) => done([r.status, j.detail])))
          .catch((e) => done([0, String(e)]));
    ''', 2 * MAX_UPLOAD)
    assert answer[0] == 413, answer
    assert 'is over the limit of' in answer[1]


#: Run in a page: POST an image and prompts to ``/api/predict`` and GET
#: ``/api/info`` of ``arguments[2]`` (a base URL), with the page's own
#: ``fetch``; returns ``{predict: [status, body], info: [...]}``, status 0
#: when the browser let the script read nothing.
FETCH_SCRIPT = '''
    const done = arguments[arguments.length - 1];
    const [bytes, prompts, base, mode] = arguments;
    const form = new FormData();
    form.append("prompts", prompts);
    form.append("score_thr", "0");
    form.append("image", new Blob([new Uint8Array(bytes)],
                                  {type: "image/png"}), "part.png");
    const read = (p) => p.then((r) => r.text().then((t) => [r.status, t]))
                         .catch((e) => [0, String(e)]);
    (async () => {
      const predict = await read(fetch(base + "/api/predict",
          {method: "POST", body: form, mode: mode}));
      const info = await read(fetch(base + "/api/info", {mode: mode}));
      done({predict: predict, info: info});
    })();
'''


def test_browser_page_of_another_name_cannot_read_a_result(server, files,
                                                          browser):
    """DNS rebinding: a page whose name (evil.test) resolves to this
    machine (chromium's --host-resolver-rules) is, for the browser, of
    origin http://evil.test:PORT - the demo's own port -, so its script may
    read what the demo answers. The demo refuses every request naming that
    Host: the script reads no result. Then a page of evil.test on another
    port posting to the demo's own name: refused by its Origin, and the
    browser lets the script read nothing. Control: the same script on the
    demo's page reads the detections."""
    with open(files['image'], 'rb') as f:
        image = list(f.read())
    evil = f'http://{EVIL}:{server["port"]}'
    browser.get(evil + '/')
    assert 'is not a name of this server' in browser.page_source
    assert browser.find_elements('id', 'detect') == []  # not the demo page
    out = browser.execute_async_script(FETCH_SCRIPT, image, PROMPTS[0],
                                       evil, 'same-origin')
    assert out['predict'][0] == 400, out
    assert json.loads(out['predict'][1])['detail'].startswith(
        f"Host '{EVIL}:{server['port']}' is not a name of this server")
    assert out['info'][0] == 400 and 'threshold' not in out['info'][1]
    # another port of evil.test: a plain page of "another site"
    other_port = free_port()
    other = subprocess.Popen(
        [sys.executable, '-m', 'http.server', str(other_port), '--bind',
         '127.0.0.1', '--directory', str(files['allowed'])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f'http://127.0.0.1:{other_port}/', timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, 'http.server not up'
                time.sleep(0.2)
        browser.get(f'http://{EVIL}:{other_port}/')
        for mode in ('cors', 'no-cors'):
            out = browser.execute_async_script(
                FETCH_SCRIPT, image, PROMPTS[0], server['url'], mode)
            assert out['predict'][0] == 0 and out['info'][0] == 0, out
            assert 'detections' not in out['predict'][1]
    finally:
        other.terminate()
        other.wait(timeout=20)
    # and the demo refuses such a POST itself (what the browser sent)
    res = httpx.post(server['url'] + '/api/predict',
                     headers={'origin': f'http://{EVIL}:{other_port}'},
                     data={'prompts': PROMPTS[0]},
                     files={'image': ('part.png', bytes(image))}, timeout=60)
    assert res.status_code == 403
    # control: the same script from the demo's own page reads the result
    browser.get(server['url'] + '/')
    out = browser.execute_async_script(FETCH_SCRIPT, image, PROMPTS[0],
                                       server['url'], 'same-origin')
    assert out['predict'][0] == 200, out
    assert json.loads(out['predict'][1])['detections']
    assert out['info'][0] == 200


def test_browser_page_obeys_its_content_security_policy(server, files,
                                                         browser):
    """The page runs under its own policy (its inline script and style
    allowed by hash): the script works (an upload is detected) and the
    style applies (the form's grid, the bold verdict)."""
    res = httpx.get(server['url'] + '/')
    assert "script-src 'sha256-" in res.headers['content-security-policy']
    state = run_in_page(browser, server['url'], files['image'], PROMPTS[0],
                        0.0)
    assert state == 'done'
    style = browser.execute_script('''
        return [getComputedStyle(document.getElementById("form")).display,
                getComputedStyle(document.getElementById("verdict"))
                    .fontWeight];''')
    assert style == ['grid', '700']


def test_bench_web_demo_runs_and_reports_ratios(files, capsys):
    from tests.utils.scripts import load_script
    bench = load_script('benchmarks/bench_web_demo.py', 'bench_web_demo')
    out = bench.main([
        files['config'], files['checkpoint'], '--image', files['image'],
        '--texts', PROMPTS[0], PROMPTS[1], '--iters', '2', '--warmup', '0',
        '--concurrency', '3', '--rounds', '1', '--clients', '6',
        '--max-in-flight', '2'
    ])
    assert all(out[k] > 0 for k in ('direct', 'http', 'burst'))
    printed = capsys.readouterr().out
    assert 'ratio http / direct:' in printed
    assert 'ratio 3 concurrent / (3 x direct):' in printed
    # the flood: 6 clients, bound 2: 2 answered at least, the rest
    # refused; without the bound all 6 answered
    bounded, unbounded = out['floods'][2], out['floods'][6]
    assert bounded['answered'] + bounded['refused'] == 6
    assert bounded['answered'] >= 2 and bounded['refused'] >= 1
    assert bounded['failed'] == 0
    assert unbounded == dict(unbounded, answered=6, refused=0, failed=0)
    assert 'flood: 6 requests at once' in printed
