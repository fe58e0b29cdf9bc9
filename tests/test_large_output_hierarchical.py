"""Hierarchical softmax: Huffman optimality against brute force and an
independent heap construction, normalisation, agreement of the per-target
and all-class paths with a direct walk of the tree, gradients, bad input."""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from actlab.torch.large_output import HierarchicalSoftmax  # noqa: E402
from actlab.torch.large_output.huffman import huffman_tree, tree_paths  # noqa: E402


def brute_force_cost(counts):
    """Minimal sum(count * depth) over every full binary tree: every such tree
    is some sequence of merges of two subtrees, and a merge adds the merged
    weight once per level below it."""
    best = math.inf

    def go(ws, cost):
        nonlocal best
        if cost >= best:
            return
        if len(ws) == 1:
            best = cost
            return
        for i, j in itertools.combinations(range(len(ws)), 2):
            rest = [w for k, w in enumerate(ws) if k not in (i, j)]
            go(rest + [ws[i] + ws[j]], cost + ws[i] + ws[j])

    go(list(counts), 0)
    return best


def heap_huffman_cost(counts):
    """Textbook Huffman with a heap: the cost is the sum of the merged weights."""
    h = list(counts)
    heapq.heapify(h)
    cost = 0
    while len(h) > 1:
        a, b = heapq.heappop(h), heapq.heappop(h)
        cost += a + b
        heapq.heappush(h, a + b)
    return cost


def our_cost(counts):
    return int((np.asarray(counts) * tree_paths(huffman_tree(np.asarray(counts, float))).depth).sum())


@pytest.mark.parametrize("seed", range(12))
def test_huffman_is_optimal_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 20, size=int(rng.integers(2, 8))).tolist()
    if seed == 0:
        counts = [3, 3, 3, 3, 3, 3, 3]  # all ties
    assert our_cost(counts) == brute_force_cost(counts)


@pytest.mark.parametrize("seed", range(4))
def test_huffman_cost_equals_heap_construction_and_kraft(seed):
    rng = np.random.default_rng(100 + seed)
    counts = (rng.zipf(1.5, size=500) if seed % 2 else rng.integers(1, 1000, size=777)).tolist()
    assert our_cost(counts) == heap_huffman_cost(counts)
    hs = HierarchicalSoftmax(3, class_counts=counts)
    lengths = hs.code_lengths.numpy()
    assert math.fsum(2.0 ** -lengths) == 1.0  # a full binary tree (Kraft equality)
    order = np.argsort(counts, kind="stable")  # more frequent never deeper
    assert np.all(np.diff(lengths[order]) <= 0)


def test_equal_counts_give_a_balanced_tree_and_construction_is_deterministic():
    hs = HierarchicalSoftmax(2, class_counts=16)
    assert hs.code_lengths.tolist() == [4] * 16
    counts = [5, 1, 1, 2, 2, 7, 1]
    assert HierarchicalSoftmax(2, class_counts=counts).tree == HierarchicalSoftmax(2, class_counts=counts).tree


def direct_log_prob(tree, weight, bias, h):
    """Walk the nested-pairs tree; inner nodes numbered children first, as the
    tree's documented convention (root last). float64 numpy."""
    out = {}
    counter = itertools.count()

    def number(node):
        if isinstance(node, int):
            return node
        return (number(node[0]), number(node[1]), next(counter))

    def walk(node, lp):
        if isinstance(node, int):
            out[node] = lp
            return
        left, right, n = node
        s = weight[n] @ h + bias[n]
        walk(left, lp + math.log(1 / (1 + math.exp(-s))))
        walk(right, lp + math.log(1 / (1 + math.exp(s))))

    walk(number(tree), 0.0)
    return np.array([out[c] for c in range(len(out))])


def small_layer(seed=0, counts=(9, 1, 4, 4, 2, 30, 3, 1, 1, 6)):
    torch.manual_seed(seed)
    hs = HierarchicalSoftmax(5, class_counts=list(counts)).double()
    with torch.no_grad():
        hs.bias.normal_()
    return hs


def test_log_probabilities_match_a_direct_walk_and_sum_to_one():
    hs = small_layer()
    h = torch.randn(6, 5, dtype=torch.float64)
    full = hs.full_log_prob(h).detach()
    w, b = hs.weight.detach().numpy(), hs.bias.detach().numpy()
    for i in range(6):
        np.testing.assert_allclose(full[i].numpy(), direct_log_prob(hs.tree, w, b, h[i].numpy()), rtol=1e-13, atol=1e-14)
    assert torch.all((full.exp().sum(-1) - 1).abs() <= 4 * torch.finfo(torch.float64).eps)
    t = torch.arange(10).repeat(2)[:6]
    torch.testing.assert_close(hs.log_prob(h, t), full.gather(1, t[:, None]).squeeze(1), rtol=1e-14, atol=1e-14)


def test_rows_sum_to_one_for_a_large_tree_in_float32():
    torch.manual_seed(1)
    counts = np.random.default_rng(1).zipf(1.3, size=5000)
    hs = HierarchicalSoftmax(16, class_counts=counts.tolist())
    h = 3 * torch.randn(8, 16)
    p = hs.full_log_prob(h).double().exp().sum(-1)
    assert torch.all((p - 1).abs() < 1e-5)
    t = torch.randint(0, 5000, (8,))
    torch.testing.assert_close(hs.log_prob(h, t), hs.full_log_prob(h).gather(1, t[:, None]).squeeze(1),
                               rtol=1e-5, atol=1e-5)


def test_gradcheck_log_prob_and_full_log_prob():
    hs = small_layer(2)
    h = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    w = hs.weight.detach().clone().requires_grad_()
    b = hs.bias.detach().clone().requires_grad_()
    t = torch.tensor([5, 1, 7, 5])

    def per_target(h, w, b):
        return torch.func.functional_call(hs, {"weight": w, "bias": b}, (h, t), strict=False)

    def all_classes(h, w, b):
        return torch.func.functional_call(hs, {"weight": w, "bias": b}, (h,), strict=False)

    assert torch.autograd.gradcheck(per_target, (h, w, b))
    hs.forward, saved = hs.full_log_prob, hs.forward
    try:
        assert torch.autograd.gradcheck(all_classes, (h, w, b))
    finally:
        hs.forward = saved


def test_loss_reduction_and_ignore_index():
    hs = small_layer(3)
    h = torch.randn(2, 3, 5, dtype=torch.float64)
    t = torch.tensor([[0, -100, 9], [5, 5, -100]])
    full = hs.full_log_prob(h).detach()
    keep = t != -100
    nll = torch.where(keep, -full.gather(-1, t.clamp(min=0)[..., None]).squeeze(-1), 0.0)
    for red, want in [("none", nll), ("sum", nll.sum()), ("mean", nll.sum() / keep.sum())]:
        hs.reduction = red
        torch.testing.assert_close(hs(h, t).detach(), want, rtol=1e-13, atol=1e-14)


def test_predict_and_given_tree():
    hs = small_layer(4)
    h = torch.randn(7, 5, dtype=torch.float64)
    full = hs.full_log_prob(h).detach()
    assert torch.equal(hs.predict(h), full.argmax(-1))
    assert torch.equal(hs.predict(h, k=3), full.topk(3, dim=-1).indices)
    again = HierarchicalSoftmax(5, tree=hs.tree).double()
    assert again.tree == hs.tree and torch.equal(again.code_lengths, hs.code_lengths)
    again.load_state_dict(hs.state_dict())  # same node numbering: same model
    torch.testing.assert_close(again.full_log_prob(h).detach(), full, rtol=0, atol=0)
    custom = HierarchicalSoftmax(5, tree=((0, 2), (1, (3, 4))), bias=False)
    assert custom.code_lengths.tolist() == [2, 2, 2, 3, 3] and custom.bias is None
    assert torch.allclose(custom.full_log_prob(torch.randn(2, 5)).exp().sum(-1), torch.ones(2))


def test_one_and_two_classes():
    one = HierarchicalSoftmax(3, class_counts=[4])
    h = torch.randn(2, 3)
    assert one.full_log_prob(h).tolist() == [[0.0], [0.0]]
    assert one.log_prob(h, torch.tensor([0, 0])).tolist() == [0.0, 0.0]
    two = HierarchicalSoftmax(3, class_counts=[1, 1]).double()
    hd = h.double()
    s = hd @ two.weight[0].detach() + two.bias[0].detach()
    torch.testing.assert_close(two.full_log_prob(hd).detach(),
                               torch.stack([torch.nn.functional.logsigmoid(s), torch.nn.functional.logsigmoid(-s)], -1))


@pytest.mark.parametrize("kwargs,message", [
    (dict(class_counts=[3, 0, 2]), r"class_counts\[1\] = 0"),
    (dict(class_counts=[3, -1, 2]), r"class_counts\[1\] = -1"),
    (dict(class_counts=[3, float("nan")]), "class_counts"),
    (dict(class_counts=0), "class_counts"),
    (dict(), "exactly one of class_counts and tree"),
    (dict(class_counts=[1, 2], tree=(0, 1)), "exactly one"),
    (dict(tree=((0, 1), 1)), "leaves must be the classes"),
    (dict(tree=((0, 1, 2), 3)), "pair of subtrees"),
    (dict(tree=((0, 3), 1)), "leaves must be the classes"),
])
def test_bad_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalSoftmax(4, **kwargs)


def test_bad_calls():
    hs = HierarchicalSoftmax(4, class_counts=[1, 2, 3])
    with pytest.raises(ValueError, match="target 3 is out of range"):
        hs(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        hs.log_prob(torch.randn(2, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        hs.full_log_prob(torch.randn(2, 5))
    with pytest.raises(ValueError, match="target shape"):
        hs(torch.randn(2, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="k must be"):
        hs.predict(torch.randn(2, 4), k=4)


def test_bias_from_counts_gives_the_unigram_distribution():
    counts = [5.0, 1.0, 1.0, 2.0, 7.0, 3.0, 0.5]
    hs = HierarchicalSoftmax(3, class_counts=[1] * 7).double()  # any tree
    torch.nn.init.zeros_(hs.weight)
    hs.init_bias_from_counts(counts)
    p = hs.full_log_prob(torch.randn(2, 3, dtype=torch.float64)).exp().detach()
    want = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    torch.testing.assert_close(p, want.expand(2, 7), rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="counts must have 7 entries"):
        hs.init_bias_from_counts([1.0, 2.0])


def test_state_dict_of_another_tree_is_refused():
    a = HierarchicalSoftmax(4, class_counts=[10, 5, 3, 1])
    b = HierarchicalSoftmax(4, class_counts=[1, 3, 5, 10])  # same shapes, another tree
    assert a.weight.shape == b.weight.shape
    with pytest.raises(ValueError, match="another tree"):
        b.load_state_dict(a.state_dict())
    c = HierarchicalSoftmax(4, class_counts=[10, 5, 3, 1])
    c.load_state_dict(a.state_dict())
    torch.testing.assert_close(c.weight, a.weight)
    old = {k: v for k, v in a.state_dict().items() if k != "tree_code"}  # a checkpoint from before
    c.load_state_dict(old)
