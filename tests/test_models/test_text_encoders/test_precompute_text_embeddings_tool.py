# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/misc/precompute_text_embeddings.py round trips through the files."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from mmioc_rtvp.models.text_encoders import (MiniLMTextEncoder,
                                             PrecomputedTextEncoder)

TOOL = Path(__file__).resolve().parents[3] / 'tools' / 'misc' / \
    'precompute_text_embeddings.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('precompute_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return load_tool()


def test_read_prompts_formats(tool, tmp_path):
    class_texts = tmp_path / 'class_texts.json'
    class_texts.write_text(
        json.dumps([['crack on brick', 'a cracked brick'], ['hole in wood'],
                    'stain']))
    assert tool.read_prompts(str(class_texts)) == [
        'crack on brick', 'a cracked brick', 'hole in wood', 'stain'
    ]
    coco = tmp_path / 'train.json'
    coco.write_text(
        json.dumps(
            dict(
                images=[],
                annotations=[],
                categories=[
                    dict(
                        id=3,
                        name='crack on brick',
                        texts=['crack on brick', 'fissure in a brick wall']),
                    dict(id=5, name='hole in wood'),
                ])))
    assert tool.read_prompts(str(coco)) == [
        'crack on brick', 'crack on brick', 'fissure in a brick wall',
        'hole in wood'
    ]
    bad = tmp_path / 'bad.json'
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match='bad.json'):
        tool.read_prompts(str(bad))


@pytest.mark.parametrize('suffix', ['.pt', '.npz', '.json'])
def test_write_then_read_back(tool, tmp_path, suffix):
    source = tmp_path / 'source.json'
    table = {'scratch': [3.0, 4.0], 'hole': [0.0, 2.0]}
    source.write_text(json.dumps(table))
    encoder = PrecomputedTextEncoder(str(source))
    out = str(tmp_path / f'out{suffix}')
    count = tool.write_text_embeddings(encoder,
                                       ['hole', '', 'scratch', 'hole'], out)
    assert count == 2
    reread = PrecomputedTextEncoder(out)
    assert reread.texts == ['hole', 'scratch']
    torch.testing.assert_close(
        reread([['scratch', 'hole', '']]),
        torch.tensor([[[0.6, 0.8], [0.0, 1.0], [0.0, 0.0]]]))


def test_cli_with_minilm(tool, tmp_path):
    class_texts = tmp_path / 'class_texts.json'
    vocab = [['scratch on metal', 'scratched metal surface'],
             ['hole in paper']]
    class_texts.write_text(json.dumps(vocab))
    out = tmp_path / 'minilm.npz'
    tool.main([
        str(class_texts), '--out',
        str(out), '--encoder', 'MiniLMTextEncoder'
    ])
    precomputed = PrecomputedTextEncoder(str(out))
    texts = [['hole in paper', 'scratch on metal', '']]
    expected = MiniLMTextEncoder()(texts)
    torch.testing.assert_close(precomputed(texts), expected)
    assert precomputed.embed_dim == 384
