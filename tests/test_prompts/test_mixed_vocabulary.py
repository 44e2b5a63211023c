# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Vocabularies mixing text, exemplar and fused classes."""
import numpy as np
import pytest

from mmioc_rtvp.prompts import PromptEmbeddings, PromptRecord
from mmioc_rtvp.prompts.exemplar_aggregation import l2_normalize
from mmioc_rtvp.prompts.mixed_vocabulary import (ClassSpec,
                                                 build_mixed_vocabulary,
                                                 class_specs)

D = 16
RNG = np.random.default_rng(0)
TEXT_TABLE = {
    p: l2_normalize(RNG.normal(size=D))
    for p in ('scratch', 'scratched metal', 'hole', 'stain')
}
FILE_ROWS = l2_normalize(RNG.normal(size=(3, D)))


def encode(prompts):
    return np.stack([TEXT_TABLE[p] for p in prompts])


def the_file() -> PromptEmbeddings:
    records = [
        PromptRecord('hole', 'exemplar', 'r1.png', (0, 0, 8, 8)),
        PromptRecord('pit', 'exemplar', 'r2.png', (1, 1, 9, 9)),
        PromptRecord('pit', 'exemplar', 'r3.png', (2, 2, 9, 9)),
    ]
    return PromptEmbeddings(FILE_ROWS, records, 'sha256:x', path='ex.npz')


def test_classes_come_from_text_then_file_only():
    specs = class_specs([['scratch', 'scratched metal'], ['hole']],
                        the_file())
    assert specs == [
        ClassSpec('scratch', ('scratch', 'scratched metal'), 'text'),
        ClassSpec('hole', ('hole', ), 'both'),
        ClassSpec('pit', (), 'exemplars')
    ]
    specs = class_specs([['hole']], the_file(), use='exemplars')
    assert [s.use for s in specs] == ['exemplars', 'exemplars']
    specs = class_specs([['hole']], the_file(), per_class={'hole': 'text'})
    assert specs[0].use == 'text'
    with pytest.raises(ValueError, match=r"unknown classes \['dent'\]"):
        class_specs([['hole']], the_file(), per_class={'dent': 'text'})
    with pytest.raises(ValueError, match='use must be one of'):
        class_specs([['hole']], the_file(), use='fused')


@pytest.mark.parametrize('text', [encode, TEXT_TABLE])
def test_text_exemplar_and_fused_embeddings(text):
    specs = class_specs([['scratch', 'scratched metal'], ['hole']],
                        the_file())
    vocab = build_mixed_vocabulary(specs, the_file(), text)
    assert vocab.names == ['scratch', 'hole', 'pit']
    assert vocab.embeddings.shape == (3, D)
    assert vocab.embeddings.dtype == np.float32
    assert vocab.text_feats.shape == (1, 3, D)
    assert np.allclose(np.linalg.norm(vocab.embeddings, axis=1), 1,
                       atol=1e-6)
    # text: the prompt ensemble
    ensemble = l2_normalize(TEXT_TABLE['scratch'] +
                            TEXT_TABLE['scratched metal'])
    assert np.allclose(vocab.embeddings[0], ensemble, atol=1e-6)
    # both: half-way between text and exemplar
    fused = l2_normalize(TEXT_TABLE['hole'] + FILE_ROWS[0])
    assert np.allclose(vocab.embeddings[1], fused, atol=1e-6)
    # exemplar only: the aggregate of its two rows
    assert np.allclose(vocab.embeddings[2],
                       l2_normalize(FILE_ROWS[1] + FILE_ROWS[2]), atol=1e-6)
    assert vocab.summary()[:3] == [
        'scratch: text (2 prompt(s))',
        'hole: both (1 prompt(s) + 1 of 1 exemplar(s))',
        'pit: exemplars (2 of 2 exemplar(s))'
    ]


def test_torch_tensors_from_the_text_callable_are_accepted():
    torch = pytest.importorskip('torch')
    vocab = build_mixed_vocabulary(
        [ClassSpec('stain', ('stain', ), 'text')],
        text=lambda p: torch.from_numpy(encode(p))[None])
    assert np.allclose(vocab.embeddings[0], TEXT_TABLE['stain'], atol=1e-6)


def test_a_class_without_what_it_needs_is_one_clear_error():
    with pytest.raises(ValueError,
                       match="'dent' has no text prompt and no exemplar "
                       r'\(ex.npz\)'):
        build_mixed_vocabulary([ClassSpec('dent', (), 'exemplars')],
                               the_file(), encode)
    with pytest.raises(ValueError, match="'stain' is to use exemplars but "
                       r'has none \(ex.npz\)'):
        build_mixed_vocabulary([ClassSpec('stain', ('stain', ), 'both')],
                               the_file(), encode)
    with pytest.raises(ValueError, match="'pit' is to use text but has no"):
        build_mixed_vocabulary([ClassSpec('pit', (), 'both')], the_file(),
                               encode)
    with pytest.raises(ValueError, match='need a text encoder'):
        build_mixed_vocabulary([ClassSpec('stain', ('stain', ), 'text')])
    with pytest.raises(ValueError, match=r"precomputed text embedding for "
                       r"prompts \['rust'\]"):
        build_mixed_vocabulary([ClassSpec('rust', ('rust', ), 'text')],
                               text=TEXT_TABLE)
    with pytest.raises(ValueError, match='empty vocabulary'):
        build_mixed_vocabulary([])
    with pytest.raises(ValueError, match=r"duplicated class names \['pit'\]"):
        build_mixed_vocabulary([ClassSpec('pit', (), 'exemplars')] * 2,
                               the_file())
