# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""The prompt-embeddings file: round trip, model refusal, malformed files."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mmioc_rtvp.prompts import (PromptEmbeddings, PromptEmbeddingsError,
                                PromptRecord, load_prompt_embeddings,
                                save_prompt_embeddings)

FP = 'sha256:' + 'a' * 64
OTHER_FP = 'sha256:' + 'b' * 64


def unit_rows(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, d))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(
        np.float32)


RECORDS = [
    PromptRecord('hole', 'exemplar', 'refs/a.png', (1.0, 2.0, 30.5, 40.0)),
    PromptRecord('hole', 'exemplar', 'refs/b.png', (5, 6, 7, 8), 'ok'),
    PromptRecord('pit', 'tuned', 'support/pit', None, 'k=5'),
]


def test_round_trip_keeps_everything(tmp_path):
    path = str(tmp_path / 'sub' / 'ex.npz')
    embeds = unit_rows(3)
    save_prompt_embeddings(path, embeds, RECORDS, FP, 'tools/x.py')
    loaded = load_prompt_embeddings(path, fingerprint=FP, dim=8)
    assert np.array_equal(loaded.embeddings, embeds)
    assert loaded.embeddings.dtype == np.float32
    assert loaded.records == RECORDS
    assert loaded.class_names == ['hole', 'pit']
    assert loaded.rows_of('hole') == [0, 1]
    assert loaded.meta() == dict(format_version=1, fingerprint=FP,
                                 embed_dims=8, tool='tools/x.py')
    # no temporary file is left next to it
    assert os.listdir(tmp_path / 'sub') == ['ex.npz']
    # the file is plain arrays: numpy reads it without pickle
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz['manifest']))[0]['box'] == [1, 2, 30.5, 40]


def test_another_model_or_width_is_refused_in_one_line(tmp_path):
    path = str(tmp_path / 'ex.npz')
    save_prompt_embeddings(path, unit_rows(3), RECORDS, FP)
    with pytest.raises(PromptEmbeddingsError) as err:
        load_prompt_embeddings(path, fingerprint=OTHER_FP)
    message = str(err.value)
    assert path in message and 'another model' in message
    assert 'aaaaaaaaaaaa' in message and 'bbbbbbbbbbbb' in message
    assert '\n' not in message
    with pytest.raises(PromptEmbeddingsError, match='D=8.*expects D=16'):
        load_prompt_embeddings(path, fingerprint=FP, dim=16)
    # no check asked: it loads
    assert len(load_prompt_embeddings(path)) == 3


def write_raw(path, **arrays) -> str:
    with open(path, 'wb') as f:
        np.savez(f, **arrays)
    return str(path)


def raw_arrays(embeds=None, manifest=None, meta=None) -> dict:
    return dict(
        embeddings=unit_rows(3) if embeds is None else embeds,
        manifest=np.array(json.dumps(
            [r.to_json() for r in RECORDS] if manifest is None else
            manifest)),
        meta=np.array(json.dumps(
            dict(format_version=1, fingerprint=FP, embed_dims=8, tool='')
            if meta is None else meta)))


@pytest.mark.parametrize('change, match', [
    (dict(drop='manifest'), r"missing arrays \['manifest'\]"),
    (dict(embeds=unit_rows(2)), '2 embeddings but 3 manifest records'),
    (dict(nan_row=1), "record 1 \\(class 'hole' \\(refs/b.png"),
    (dict(zero_row=2), "record 2 .*zero vector"),
    (dict(manifest=[{'class': 'hole', 'kind': 'exemplar', 'box': [1, 2]}] *
          3), r'record 0: "box" must be'),
    (dict(manifest=[{'class': 'x', 'kind': 'guess'}] * 3),
     r'record 0: "kind" must be one of'),
    (dict(manifest=[{'class': '', 'kind': 'tuned'}] * 3),
     r'record 0: "class" must be a non-empty string'),
    (dict(meta=dict(format_version=9)), 'format version 9'),
    (dict(meta=dict(format_version=1, embed_dims=8)),
     'fingerprint is missing'),
    (dict(meta=dict(format_version=1, fingerprint=FP, embed_dims=4)),
     'meta says D=4'),
])
def test_malformed_files_are_refused_naming_file_and_record(
        tmp_path, change, match):
    arrays = raw_arrays(
        embeds=change.get('embeds'), manifest=change.get('manifest'),
        meta=change.get('meta'))
    if 'drop' in change:
        del arrays[change['drop']]
    if 'nan_row' in change:
        arrays['embeddings'][change['nan_row'], 3] = np.nan
    if 'zero_row' in change:
        arrays['embeddings'][change['zero_row']] = 0
    path = write_raw(tmp_path / 'bad.npz', **arrays)
    with pytest.raises(PromptEmbeddingsError, match=match) as err:
        load_prompt_embeddings(path)
    assert str(err.value).startswith(path) and '\n' not in str(err.value)


def test_not_an_npz_and_missing_files(tmp_path):
    text = tmp_path / 'notes.npz'
    text.write_text('hello')
    with pytest.raises(PromptEmbeddingsError, match='not a .npz archive'):
        load_prompt_embeddings(str(text))
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        load_prompt_embeddings(str(tmp_path / 'missing.npz'))


def test_nothing_is_written_when_the_contents_are_wrong(tmp_path):
    path = tmp_path / 'ex.npz'
    bad = unit_rows(3)
    bad[0, 0] = np.inf
    with pytest.raises(PromptEmbeddingsError, match='record 0'):
        save_prompt_embeddings(str(path), bad, RECORDS, FP)
    with pytest.raises(PromptEmbeddingsError, match='fingerprint'):
        save_prompt_embeddings(str(path), unit_rows(3), RECORDS, '')
    assert not path.exists() and os.listdir(tmp_path) == []


def test_concat_refuses_another_model(tmp_path):
    a = PromptEmbeddings(unit_rows(3), RECORDS, FP)
    b = PromptEmbeddings(unit_rows(1, seed=1), RECORDS[2:], FP)
    both = a.concat(b)
    assert len(both) == 4 and both.rows_of('pit') == [2, 3]
    with pytest.raises(PromptEmbeddingsError, match='another model'):
        a.concat(PromptEmbeddings(unit_rows(1), RECORDS[:1], OTHER_FP))


def test_the_room_imports_without_torch():
    code = ('import sys, mmioc_rtvp.prompts; '
            'bad = [m for m in ("torch", "mmengine", "mmdet", "cv2") '
            'if m in sys.modules]; assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True)
