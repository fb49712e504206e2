"""Permutation orders and masks on known examples."""
import numpy as np
import torch

from clip4str_plugin.models.parseq.network import cloze_mask
from clip4str_plugin.models.parseq.permutations import (generate_permutations,
                                                        mirror_pool, permutation_masks)


def test_orders_forward_reverse_and_mirrored_pairs():
    perms = generate_permutations(5, 6, np.random.default_rng(0))
    assert perms.shape == (6, 7)
    assert perms[0].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert perms[1].tolist() == [0, 6, 5, 4, 3, 2, 1]      # EOS right after BOS
    for k in (2, 4):
        assert perms[k, 0] == 0 and perms[k, -1] == 6
        assert perms[k + 1, 1:-1].tolist() == perms[k, 1:-1].flip(0).tolist()
        assert sorted(perms[k, 1:-1].tolist()) == [1, 2, 3, 4, 5]


def test_short_labels_draw_from_the_exhaustive_pool():
    assert [len(mirror_pool(n)) for n in (2, 3, 4)] == [0, 2, 11]
    assert generate_permutations(1, 6).tolist() == [[0, 1, 2]]
    assert generate_permutations(2, 6).shape == (2, 4)
    three = generate_permutations(3, 6, np.random.default_rng(1))
    assert three.shape == (6, 5) and len({tuple(p) for p in three.tolist()}) == 6


def test_masks_for_a_known_order():
    # order of [BOS, c1, c2, EOS]: BOS, c2, c1, EOS
    content, query = permutation_masks(torch.tensor([[0, 2, 1, 3]]))
    blocked = torch.tensor([[0, 1, 1, 1],   # BOS sees only itself
                            [0, 0, 0, 1],   # c1 comes after c2: sees BOS, c1, c2
                            [0, 1, 0, 1],   # c2 sees BOS and itself
                            [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(content[0], blocked[:-1, :-1])
    # query i predicts position i + 1 and may not see it: c1's query sees BOS and c2,
    # c2's query sees only BOS, EOS's query sees everything
    assert torch.equal(query[0], torch.tensor([[0, 1, 0], [0, 1, 1], [0, 0, 0]],
                                              dtype=torch.bool))


def test_forward_order_gives_causal_masks():
    content, query = permutation_masks(torch.arange(6)[None])
    assert torch.equal(content[0], torch.ones(5, 5, dtype=torch.bool).triu(1))
    assert torch.equal(query[0], torch.ones(5, 5, dtype=torch.bool).triu(1))


def test_cloze_mask_hides_only_the_predicted_position():
    assert cloze_mask(3, 4).int().tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
