"""CLIP4STR's AR decoding stops once every sample has ended, in both branches.

The reference breaks its visual AR loop once every row has produced [E] (L = k + 1 steps when
every row ends after k characters) and runs its cross loop for exactly L steps; refinement then
runs once per branch over all position queries. Counted here on the plugin's decoder with the
weights edited so that [E] wins from position k on (what the B/16 benchmark's ``--eos-after k``
state does), so a decoder that kept stepping after every row ended would fail.
"""
import pytest
import torch

from conftest import fixture_model

BATCH = 3


def end_after(network, k: int) -> None:
    """Edit ``network`` so that greedy decoding emits [E] exactly at query position ``k``.

    Positions >= k get a large component along a zero-mean unit direction ``d``; after the final
    LayerNorm that component dominates, and the [E] row of the head reads it. Earlier positions
    see [E]'s logit lowered by a margin, so no sample stops before k.
    """
    dim = network.pos_queries.shape[-1]
    d = torch.randn(dim, generator=torch.Generator().manual_seed(k + 1))
    d = (d - d.mean()) / (d - d.mean()).norm()
    network.pos_queries.data[0, k:] += 100.0 * d
    network.head.weight.data[network.eos_id] += 2.0 * d
    network.head.bias.data[network.eos_id] -= 8.0


def never_end(network) -> None:
    network.head.bias.data[network.eos_id] -= 1e4


def count_steps(decoder, monkeypatch):
    """Counters of AR steps (``run_layers`` with a key/value cache) and of every other pass
    (refinement) per branch, filled as ``decoder.decode`` runs."""
    counts = {}
    for branch in ('visual', 'cross'):
        network = getattr(decoder, f'{branch}_decoder')

        def counted(*args, _branch=branch, _run=network.run_layers, **kwargs):
            kind = 'ar' if kwargs.get('cache') is not None else 'other'
            counts[(_branch, kind)] = counts.get((_branch, kind), 0) + 1
            return _run(*args, **kwargs)

        monkeypatch.setattr(network, 'run_layers', counted)
    return counts


@pytest.fixture(scope='module')
def image():
    torch.manual_seed(0)
    model = fixture_model()
    with torch.no_grad():
        return model.backbone(torch.randn(BATCH, 3, 224, 224))


@pytest.mark.parametrize('k', [0, 4, 9, None])
@torch.no_grad()
def test_each_branch_stops_after_every_sample_ended(image, k, monkeypatch):
    torch.manual_seed(0)
    decoder = fixture_model().decoder
    for network in (decoder.visual_decoder, decoder.cross_decoder):
        end_after(network, k) if k is not None else never_end(network)
    counts = count_steps(decoder, monkeypatch)
    cross, visual = decoder.decode(image)

    max_steps = decoder.max_seq_len + 1
    steps = max_steps if k is None else k + 1
    assert counts == {('visual', 'ar'): steps, ('cross', 'ar'): steps,
                      ('visual', 'other'): 1, ('cross', 'other'): 1}
    # the edit does what it says: every sample's text is k characters long, in both branches
    eos = decoder.dictionary.end_idx
    for logits in (cross, visual):
        ids = logits.argmax(-1)
        lengths = [row.index(eos) if eos in row else len(row) for row in ids.tolist()]
        assert lengths == [max_steps if k is None else k] * BATCH

