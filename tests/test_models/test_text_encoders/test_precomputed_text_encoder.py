# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""PrecomputedTextEncoder: embeddings read from .json, .pt and .npz files."""
import json
import pickle

import numpy as np
import pytest
import torch

from mmioc_rtvp.models.text_encoders import (PrecomputedTextEncoder,
                                             load_text_embeddings)
from mmioc_rtvp.registry import MODELS

TABLE = {
    'scratch': [3.0, 4.0, 0.0],  # norm 5
    'hole': [0.0, 0.0, 2.0],  # norm 2
    'stain': [1.0, 1.0, 1.0],  # norm sqrt(3)
}
S3 = 3**0.5
UNIT = {
    'scratch': [0.6, 0.8, 0.0],
    'hole': [0.0, 0.0, 1.0],
    'stain': [1 / S3, 1 / S3, 1 / S3],
    '': [0.0, 0.0, 0.0],
}


def write(path, table=TABLE):
    """Write ``table`` in the format of the suffix of ``path``."""
    texts = list(table)
    embeddings = np.array(list(table.values()), dtype=np.float32)
    if path.suffix == '.json':
        path.write_text(json.dumps(table))
    elif path.suffix == '.pt':
        torch.save(
            dict(texts=texts, embeddings=torch.from_numpy(embeddings)), path)
    else:
        np.savez(path, texts=np.array(texts), embeddings=embeddings)
    return str(path)


@pytest.mark.parametrize('suffix', ['.json', '.pt', '.npz'])
def test_lookup_normalised_and_padding(tmp_path, suffix):
    path = write(tmp_path / f'emb{suffix}')
    encoder = MODELS.build(
        dict(type='mmioc_rtvp.PrecomputedTextEncoder', embeddings_file=path))
    assert isinstance(encoder, PrecomputedTextEncoder)
    assert encoder.embed_dim == 3
    assert encoder.texts == ['scratch', 'hole', 'stain']
    texts = [['hole', 'scratch', ''], ['stain', '', 'hole']]
    out = encoder(texts)
    torch.testing.assert_close(
        out, torch.tensor([[UNIT[p] for p in row] for row in texts]))
    assert list(encoder.state_dict()) == []


def test_missing_prompt_names_file_and_prompts(tmp_path):
    path = write(tmp_path / 'emb.json')
    encoder = PrecomputedTextEncoder(path)
    with pytest.raises(ValueError) as info:
        encoder([['scratch', 'dent', 'crack', '']])
    message = str(info.value)
    assert path in message
    assert "['dent', 'crack']" in message
    assert '2 prompt(s)' in message


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='no_such.pt'):
        PrecomputedTextEncoder(str(tmp_path / 'no_such.pt'))


def test_pt_is_loaded_with_weights_only(tmp_path):
    path = tmp_path / 'unsafe.pt'
    # a pickled object that only full unpickling would rebuild
    torch.save(
        dict(
            texts=['scratch'],
            embeddings=torch.ones(1, 3),
            extra=pickle.PickleError('x')), path)
    with pytest.raises(pickle.UnpicklingError, match='[Ww]eights only'):
        PrecomputedTextEncoder(str(path))


@pytest.mark.parametrize('name, content, match', [
    ('a.json', '[1, 2]', 'expected a JSON object'),
    ('b.json', '{"x": [1, 2], "y": [1]}', 'same D'),
    ('c.json', '{"x": ["a", "b"]}', 'not lists of numbers'),
    ('d.json', '{}', 'no embeddings'),
    ('f.json', '{"x": [1, 2]', 'not valid JSON'),
    ('e.txt', 'x', "unknown embeddings file type '.txt'"),
])
def test_malformed_json_and_suffix(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        PrecomputedTextEncoder(str(path))
    assert str(path) in str(info.value)


def test_malformed_arrays(tmp_path):
    path = tmp_path / 'rows.npz'
    np.savez(path, texts=np.array(['a', 'b']), embeddings=np.ones((3, 4)))
    with pytest.raises(ValueError, match=r'N = 2 texts, got \(3, 4\)'):
        load_text_embeddings(str(path))

    path = tmp_path / 'dup.npz'
    np.savez(path, texts=np.array(['a', 'a']), embeddings=np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"duplicated texts \['a'\]"):
        load_text_embeddings(str(path))

    path = tmp_path / 'keys.pt'
    torch.save(dict(prompts=['a'], embeddings=torch.ones(1, 4)), path)
    with pytest.raises(ValueError, match='"texts" and "embeddings"'):
        load_text_embeddings(str(path))
