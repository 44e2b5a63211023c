# Copyright (c) mmioc_rtvp contributors. All rights reserved.
import pytest
import torch

from mmioc_rtvp.models.layers import BlockMask


def _x(b, h, w):
    return torch.zeros(b, 3, h, w)


def test_block_index_tiles_the_grid_into_near_equal_blocks():
    bm = BlockMask(blocks_per_side=4)
    ids = bm.block_index(6, 10)
    # rows: 6 cells in 4 bands -> sizes 2,1,2,1 (floor(h * 4 / 6))
    assert ids[:, 0].tolist() == [0, 0, 4, 8, 8, 12]
    # columns: 10 cells in 4 bands -> floor(w * 4 / 10)
    assert ids[0].tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    areas = torch.bincount(ids.flatten())
    assert areas.numel() == 16 and int(areas.sum()) == 60
    # row bands of 2/1 cells x column bands of 3/2 cells
    assert int(areas.max()) == 6 and int(areas.min()) == 2
    # a grid smaller than the block count: one block per cell
    assert BlockMask(blocks_per_side=8).block_index(3, 2).flatten().tolist() \
        == list(range(6))


@pytest.mark.parametrize('h,w,ratio', [(80, 80, 0.2), (40, 40, 0.2),
                                       (20, 20, 0.2), (13, 17, 0.2),
                                       (20, 20, 0.1), (40, 40, 0.3),
                                       (7, 5, 0.2)])
def test_realised_ratio_within_tolerance_over_many_seeds(h, w, ratio):
    bm = BlockMask(mask_ratio=ratio).train()
    areas = torch.bincount(bm.block_index(h, w).flatten()).double()
    # documented bound: half the largest block
    bound = float(areas.max()) / 2 / (h * w) + 1e-9
    realised = []
    for seed in range(50):
        torch.manual_seed(seed)
        mask = bm(_x(4, h, w))
        assert mask.shape == (4, 1, h, w)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        realised.append(1 - mask.mean(dim=(1, 2, 3)))
    realised = torch.cat(realised)
    assert float((realised - ratio).abs().max()) <= bound
    if h * w >= 400:  # grids of the 640 px pyramid (and half of it)
        assert float((realised - ratio).abs().max()) <= 0.012
        assert float(realised.mean()) == pytest.approx(ratio, abs=0.006)


def test_masked_cells_form_whole_blocks_and_differ_between_samples():
    torch.manual_seed(0)
    bm = BlockMask(mask_ratio=0.25, blocks_per_side=4).train()
    mask = bm(_x(8, 8, 8))[:, 0]  # blocks of exactly 2 x 2 cells
    blocks = mask.reshape(8, 4, 2, 4, 2)
    # every block is all 0 or all 1
    assert torch.equal(blocks.amin(dim=(2, 4)), blocks.amax(dim=(2, 4)))
    # equal blocks: exactly round(0.25 * 16) = 4 masked blocks per sample
    assert ((blocks.amax(dim=(2, 4)) == 0).sum(dim=(1, 2)) == 4).all()
    assert len({tuple(m.flatten().tolist()) for m in mask}) > 1


def test_blocks_are_drawn_uniformly():
    """Each of the 16 equal blocks is masked with probability 4/16."""
    torch.manual_seed(1)
    bm = BlockMask(mask_ratio=0.25, blocks_per_side=4).train()
    n = 4000
    mask = bm(_x(n, 4, 4))[:, 0]  # 1 cell per block
    freq = (mask == 0).double().mean(dim=0)
    # binomial std of a frequency: sqrt(.25 * .75 / 4000) ~ 0.0068
    assert float((freq - 0.25).abs().max()) < 5 * 0.0069


def test_identity_at_test_time_and_for_zero_ratio():
    bm = BlockMask(mask_ratio=0.2).eval()
    assert torch.equal(bm(_x(2, 10, 10)), torch.ones(2, 1, 10, 10))
    bm = BlockMask(mask_ratio=0.0).train()
    assert torch.equal(bm(_x(2, 10, 10)), torch.ones(2, 1, 10, 10))


def test_bad_arguments():
    with pytest.raises(ValueError, match='mask_ratio'):
        BlockMask(mask_ratio=1.0)
    with pytest.raises(ValueError, match='mask_ratio'):
        BlockMask(mask_ratio=-0.1)
    with pytest.raises(ValueError, match='blocks_per_side'):
        BlockMask(blocks_per_side=0)
