# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Vocabulary parsing and prompt-ensemble embeddings."""
import json

import pytest
import torch

from mmioc_rtvp.apis import Vocabulary


def test_the_accepted_forms_give_the_same_vocabulary(tmp_path):
    expected = (('scratch', 'scratched metal'), ('hole',))
    json_file = tmp_path / 'classes.json'
    json_file.write_text(json.dumps([['scratch', 'scratched metal'],
                                     ['hole']]))
    txt_file = tmp_path / 'classes.txt'
    txt_file.write_text('# defects\nscratch | scratched metal\n\nhole\n')
    for texts in ([['scratch', 'scratched metal'], ['hole']],
                  ['scratch|scratched metal', 'hole'],
                  'scratch|scratched metal, hole', str(json_file),
                  str(txt_file)):
        vocab = Vocabulary.parse(texts)
        assert vocab.prompts == expected, texts
    assert vocab.names == ['scratch', 'hole'] and len(vocab) == 2


def test_bad_vocabularies_are_refused(tmp_path):
    for texts, match in (([], 'empty vocabulary'), ('', 'empty vocabulary'),
                         (None, 'empty vocabulary'),
                         (['hole', ''], 'non-empty string'),
                         (['hole', 'hole|pit'], 'duplicated class names'),
                         ([['a'], []], 'has no prompt')):
        with pytest.raises(ValueError, match=match):
            Vocabulary.parse(texts)
    with pytest.raises(FileNotFoundError):
        Vocabulary.parse(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match='one list of prompts per class'):
        Vocabulary.parse(str(bad))


def test_embed_averages_unit_vectors_and_renormalises():
    table = {'a': [1.0, 0.0], 'b': [0.0, 1.0], 'c': [0.6, 0.8]}

    def encode(texts):
        return torch.tensor([[table[p] for p in texts[0]]])

    feats = Vocabulary.parse([['a', 'b'], ['c']]).embed(encode)
    # mean of (1, 0) and (0, 1) is (0.5, 0.5), normalised (1, 1) / sqrt 2
    r = 2**-0.5
    torch.testing.assert_close(feats, torch.tensor([[[r, r], [0.6, 0.8]]]))
