# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""BaseTextEncoder: padding, normalisation, cache, frozen-ness, errors.

A toy encoder with hand-computable outputs: the embedding of a prompt is the
count of the letters a, b, c, d in it (a linear layer over a 26-letter
histogram whose weight picks those four letters). Like a Hugging Face model,
its layer re-initialises itself when its ``init_weights()`` is called.
"""
import math
import string
from typing import List

import pytest
import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmioc_rtvp.models.text_encoders import BaseTextEncoder


class SelfInitLinear(nn.Linear):
    """A linear layer with an ``init_weights`` that overwrites it."""

    def init_weights(self) -> None:
        nn.init.constant_(self.weight, 7.0)


class LetterCountEncoder(BaseTextEncoder):
    """Embeds a prompt as its counts of the letters a, b, c, d."""

    def __init__(self, frozen: bool = True, batch_size: int = 256) -> None:
        super().__init__(frozen=frozen, batch_size=batch_size)
        self.proj = SelfInitLinear(26, 4)
        with torch.no_grad():
            self.proj.weight.zero_()
            self.proj.weight[:, :4] = torch.eye(4)
            self.proj.bias.zero_()
        self.calls: List[List[str]] = []
        self.grad_enabled: List[bool] = []
        self._apply_frozen()

    @property
    def embed_dim(self) -> int:
        return 4

    def _encode_uncached(self, prompts: List[str]) -> Tensor:
        self.calls.append(list(prompts))
        self.grad_enabled.append(torch.is_grad_enabled())
        hist = torch.zeros(len(prompts), 26)
        for i, prompt in enumerate(prompts):
            for char in prompt:
                if char in string.ascii_lowercase:
                    hist[i, ord(char) - ord('a')] += 1
        return self.proj(hist.to(self.proj.weight.dtype))


R2, R10, R5 = math.sqrt(2), math.sqrt(10), math.sqrt(5)
# hand-computed unit embeddings of the prompts used below
EXPECTED = {
    'ab': [1 / R2, 1 / R2, 0, 0],
    'aaab': [3 / R10, 1 / R10, 0, 0],
    'cd d': [0, 0, 1 / R5, 2 / R5],
    '': [0, 0, 0, 0],
}


def test_forward_values_padding_and_norm():
    encoder = LetterCountEncoder()
    texts = [['ab', 'aaab', ''], ['cd d', 'ab', '']]
    out = encoder(texts)
    expected = torch.tensor([[EXPECTED[p] for p in row] for row in texts])
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out, expected)
    norms = out.norm(dim=-1)
    torch.testing.assert_close(norms, torch.tensor([[1., 1., 0.], [1., 1.,
                                                                   0.]]))


def test_encode_flat_list_matches_forward():
    encoder = LetterCountEncoder()
    flat = encoder.encode(['cd d', '', 'ab', 'cd d'])
    expected = torch.tensor(
        [EXPECTED['cd d'], EXPECTED[''], EXPECTED['ab'], EXPECTED['cd d']])
    torch.testing.assert_close(flat, expected)


def test_cache_encodes_each_unique_prompt_once():
    encoder = LetterCountEncoder()
    first = encoder([['ab', 'aaab', 'ab'], ['cd d', '', 'aaab']])
    # one call, each unique non-empty prompt once, in order of appearance
    assert encoder.calls == [['ab', 'aaab', 'cd d']]
    assert encoder.num_cached == 3

    second = encoder([['ab', 'aaab', 'ab'], ['cd d', '', 'aaab']])
    assert encoder.calls == [['ab', 'aaab', 'cd d']]  # nothing new
    torch.testing.assert_close(first, second)

    third = encoder([['dd', 'ab', 'aaab']])
    assert encoder.calls == [['ab', 'aaab', 'cd d'], ['dd']]
    torch.testing.assert_close(third[0, 0], torch.tensor([0., 0., 0., 1.]))

    encoder.clear_cache()
    assert encoder.num_cached == 0
    encoder([['ab']])
    assert encoder.calls[-1] == ['ab']


def test_cache_is_not_in_state_dict():
    encoder = LetterCountEncoder()
    encoder([['ab', 'cd d']])
    assert set(encoder.state_dict()) == {'proj.weight', 'proj.bias'}


def test_batch_size_chunks_the_network_calls():
    encoder = LetterCountEncoder(batch_size=2)
    out = encoder.encode(['a', 'b', 'c', 'd', 'ab'])
    assert [len(call) for call in encoder.calls] == [2, 2, 1]
    torch.testing.assert_close(out[4], torch.tensor(EXPECTED['ab']))
    with pytest.raises(ValueError, match='batch_size must be >= 1'):
        LetterCountEncoder(batch_size=0)


def test_output_follows_module_dtype_without_reencoding():
    encoder = LetterCountEncoder()
    encoder([['ab', 'aaab']])
    encoder.double()
    out = encoder([['ab', 'aaab', '']])
    assert out.dtype == torch.float64
    assert len(encoder.calls) == 1  # served from the cache
    torch.testing.assert_close(
        out[0],
        torch.tensor([EXPECTED['ab'], EXPECTED['aaab'], EXPECTED['']],
                     dtype=torch.float64))


def test_frozen_params_eval_mode_and_no_grad():
    encoder = LetterCountEncoder()
    assert all(not p.requires_grad for p in encoder.parameters())
    assert not encoder.training

    parent = nn.Sequential(encoder, nn.Linear(4, 4))
    parent.train()
    assert parent.training and parent[1].training
    assert not encoder.training  # stays in eval mode
    encoder.train(True)
    assert not encoder.training

    weight = torch.ones(4, requires_grad=True)
    out = encoder([['ab', 'cd d']])
    assert not out.requires_grad
    assert encoder.grad_enabled == [False]  # the network ran under no_grad
    loss = (out * weight).sum()
    loss.backward()
    assert encoder.proj.weight.grad is None
    torch.testing.assert_close(weight.grad, out.sum(dim=(0, 1)))


def test_not_frozen_trains_without_cache():
    encoder = LetterCountEncoder(frozen=False)
    assert all(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert encoder.training
    encoder.eval()
    assert not encoder.training

    out = encoder([['ab', 'ab']])
    out2 = encoder([['ab']])
    # no cache: every forward runs the network
    assert encoder.calls == [['ab'], ['ab']]
    assert encoder.grad_enabled == [True, True]
    assert out.requires_grad
    (out2[0, 0, 0]).backward()
    grad = encoder.proj.weight.grad
    # d/dW of x0/||x|| where x = W h, h = counts of 'ab' = e_a + e_b:
    # only the columns of a and b get a gradient
    assert grad[:, 2:].abs().sum() == 0
    assert grad[:, :2].abs().sum() > 0
    torch.testing.assert_close(out[0, 0], torch.tensor(EXPECTED['ab']))


def test_parent_init_weights_leaves_encoder_untouched():

    class Detector(BaseModule):

        def __init__(self):
            super().__init__(
                init_cfg=dict(type='Constant', val=0.5, layer='Conv2d'))
            self.text_encoder = LetterCountEncoder()
            self.conv = nn.Conv2d(1, 1, 1)

    detector = Detector()
    before = {
        k: v.clone()
        for k, v in detector.text_encoder.state_dict().items()
    }
    detector.init_weights()
    assert torch.all(detector.conv.weight == 0.5)  # the parent did init
    for key, value in detector.text_encoder.state_dict().items():
        torch.testing.assert_close(value, before[key])
    # not vacuous: the layer's own init_weights would have changed it
    detector.text_encoder.proj.init_weights()
    assert torch.all(detector.text_encoder.proj.weight == 7.0)


def test_all_padding_and_empty_batch():
    encoder = LetterCountEncoder()
    out = encoder([['', ''], ['', '']])
    torch.testing.assert_close(out, torch.zeros(2, 2, 4))
    assert encoder.calls == []
    assert encoder([]).shape == (0, 0, 4)
    assert encoder([[], []]).shape == (2, 0, 4)


def test_bad_input_errors():
    encoder = LetterCountEncoder()
    with pytest.raises(ValueError, match=r'same number of prompts.*\[2, 1\]'):
        encoder([['ab', 'cd d'], ['ab']])
    with pytest.raises(TypeError, match='list of B lists'):
        encoder('ab')
    with pytest.raises(TypeError, match='list of B lists'):
        encoder(['ab', 'cd'])
    with pytest.raises(TypeError, match='prompt 1 must be a str'):
        encoder([['ab', 3]])
