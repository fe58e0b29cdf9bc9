"""Samplers and the sampled losses: the exact full-softmax case, a seeded
statistical test of the gradient's bias, the SPEC formulas computed by hand
in float64, gradient sparsity, reproducibility and bad input."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from actlab.torch.large_output import (  # noqa: E402
    LogUniformSampler,
    NCELoss,
    NegativeSamplingLoss,
    SampledSoftmaxLoss,
    Samples,
    UniformSampler,
    UnigramSampler,
    nce_loss,
    negative_sampling_loss,
    sampled_softmax_loss,
)


def problem(n=6, d=4, v=9, seed=0, bias=True):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(v, d, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(v, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    t = torch.randint(0, v, (n,), generator=g)
    return h, w, b, t


@pytest.mark.parametrize("subtract_log_q", [False, True])
def test_every_class_drawn_once_equals_full_cross_entropy(subtract_log_q):
    h, w, b, t = problem()
    t[1] = -100
    full = F.cross_entropy(h @ w.T + b, t)
    g = torch.Generator().manual_seed(3)
    # uniform without replacement and S = V: every class exactly once; the
    # log-Q correction is then the same for every candidate and cancels
    ours = sampled_softmax_loss(h, w, t, 9, b, UniformSampler(9), True, subtract_log_q, g)
    torch.testing.assert_close(ours, full, rtol=1e-14, atol=1e-15)
    for a, e in zip(torch.autograd.grad(ours, [h, w, b]), torch.autograd.grad(full, [h, w, b]), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-13, atol=1e-15)


def test_explicit_candidates_in_any_order_equal_full_cross_entropy():
    h, w, b, t = problem(seed=1)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    every = Samples(perm, torch.zeros(9, dtype=torch.float64), 9)
    ours = sampled_softmax_loss(h, w, t, 9, b, subtract_log_q=False, samples=every, reduction="none")
    torch.testing.assert_close(ours, F.cross_entropy(h @ w.T + b, t, reduction="none"), rtol=1e-14, atol=1e-15)


def test_gradient_bias_shrinks_as_num_sampled_grows():
    torch.manual_seed(0)
    v, d, n, draws = 200, 8, 16, 300
    h = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    w = 0.5 * torch.randn(v, d, dtype=torch.float64)
    t = torch.randint(0, v, (n,))
    exact, = torch.autograd.grad(F.cross_entropy(h @ w.T, t), h)
    sampler = LogUniformSampler(v, replacement=True)
    bias, noise = [], []
    for s in (4, 32, 256):
        g = torch.Generator().manual_seed(s)
        grads = torch.stack([torch.autograd.grad(sampled_softmax_loss(h, w, t, s, sampler=sampler, generator=g), h)[0]
                             for _ in range(draws)])
        bias.append(float((grads.mean(0) - exact).norm()))
        noise.append(float(grads.std(0).norm()) / math.sqrt(draws))  # standard error of the mean's norm
    for i in range(2):
        assert bias[i] - bias[i + 1] > 3 * (noise[i] + noise[i + 1]), (bias, noise)


def sigma(x):
    return 1.0 / (1.0 + math.exp(-x))


def hand_logits(h, w, b, row, k):
    return sum(h[row][j] * w[k][j] for j in range(len(h[row]))) + b[k]


def test_nce_negative_sampling_and_sampled_softmax_by_hand():
    h, w, b, t = problem(n=3, d=2, v=5, seed=4)
    t = torch.tensor([0, 3, 4])
    counts = [10.0, 5.0, 3.0, 1.0, 1.0]
    sampler = UnigramSampler(counts, power=0.75, replacement=True)
    ids = [3, 1, 1, 2]  # with replacement: 1 twice; 3 is row 1's target (an accidental hit)
    q = [c ** 0.75 / sum(c ** 0.75 for c in counts) for c in counts]
    s_ = len(ids)
    samples = Samples(torch.tensor(ids), torch.tensor([math.log(s_ * q[k]) for k in ids], dtype=torch.float64), s_)
    hl, wl, bl = h.tolist(), w.tolist(), b.tolist()

    nce, neg, ssm = [], [], []
    for i, ti in enumerate(t.tolist()):
        z = lambda k, i=i: hand_logits(hl, wl, bl, i, k)
        corr = lambda k: math.log(s_ * q[k])
        nce.append(-math.log(sigma(z(ti) - 0.7 - corr(ti)))
                   - sum(math.log(sigma(-(z(k) - 0.7 - corr(k)))) for k in ids))
        neg.append(-math.log(sigma(z(ti))) - sum(math.log(sigma(-z(k))) for k in ids if k != ti))
        kept = [z(k) - corr(k) for k in ids if k != ti]  # accidental hits removed
        top = z(ti) - corr(ti)
        ssm.append(-top + math.log(math.exp(top) + sum(math.exp(x) for x in kept)))

    common = dict(samples=samples, reduction="none")
    got = nce_loss(h, w, t, s_, b, sampler, log_z=0.7, **common)
    torch.testing.assert_close(got, torch.tensor(nce, dtype=torch.float64), rtol=1e-13, atol=0)
    got = negative_sampling_loss(h, w, t, s_, b, sampler, remove_accidental_hits=True, **common)
    torch.testing.assert_close(got, torch.tensor(neg, dtype=torch.float64), rtol=1e-13, atol=0)
    got = sampled_softmax_loss(h, w, t, s_, b, sampler, **common)
    torch.testing.assert_close(got, torch.tensor(ssm, dtype=torch.float64), rtol=1e-13, atol=0)


def test_expected_counts_without_replacement_by_hand():
    sampler = LogUniformSampler(50)
    s = sampler.sample(10, torch.Generator().manual_seed(2))
    assert len(set(s.ids.tolist())) == 10 and s.num_tries >= 10
    for k, lec in zip(s.ids.tolist(), s.log_expected_count.tolist(), strict=True):
        qk = math.log((k + 2) / (k + 1)) / math.log(51)
        assert lec == pytest.approx(math.log(1 - (1 - qk) ** s.num_tries), rel=1e-12)


def test_only_targets_and_candidates_get_gradient():
    h, w, b, t = problem(n=4, v=40, seed=5)
    g = torch.Generator().manual_seed(1)
    sampler = LogUniformSampler(40)
    for loss_fn in (sampled_softmax_loss, nce_loss, negative_sampling_loss):
        samples = sampler.sample(6, torch.Generator().manual_seed(9))
        loss = loss_fn(h, w, t, 6, b, sampler, generator=g, samples=samples)
        gw, gb = torch.autograd.grad(loss, [w, b])
        touched = torch.zeros(40, dtype=torch.bool)
        touched[samples.ids] = True
        touched[t] = True
        assert torch.count_nonzero(gw[~touched]) == 0 and torch.count_nonzero(gb[~touched]) == 0
        assert torch.all(gw[touched].abs().sum(-1) > 0)


@pytest.mark.parametrize("make", [
    lambda: LogUniformSampler(30, replacement=True),
    lambda: UnigramSampler([float(k % 7 + 1) for k in range(30)], replacement=True),
    lambda: UniformSampler(30, replacement=True),
])
def test_sampler_frequencies_match_its_probabilities(make):
    sampler = make()
    q = sampler.log_prob(torch.arange(30)).exp()
    assert float(q.sum()) == pytest.approx(1.0, abs=1e-12)
    n = 200_000
    draws = sampler.sample(n, torch.Generator().manual_seed(0)).ids
    freq = torch.bincount(draws, minlength=30).double() / n
    sd = (q * (1 - q) / n).sqrt()
    assert torch.all((freq - q).abs() <= 5 * sd)


def test_sampling_is_reproducible_and_distinct_without_replacement():
    sampler = UnigramSampler(torch.arange(1, 101).double())
    a = sampler.sample(40, torch.Generator().manual_seed(7))
    b = sampler.sample(40, torch.Generator().manual_seed(7))
    c = sampler.sample(40, torch.Generator().manual_seed(8))
    assert torch.equal(a.ids, b.ids) and a.num_tries == b.num_tries and not torch.equal(a.ids, c.ids)
    assert a.ids.unique().numel() == 40
    h, w, _, t = problem(v=100, seed=6, bias=False)
    l1 = nce_loss(h, w, t, 40, sampler=sampler, generator=torch.Generator().manual_seed(7))
    l2 = nce_loss(h, w, t, 40, sampler=sampler, generator=torch.Generator().manual_seed(7))
    assert torch.equal(l1, l2)


def test_modules_reduction_ignore_index_and_learned_log_z():
    h, w, b, t = problem(seed=8)
    t[0] = -100
    samples_seed = 4
    for module, fn in [(SampledSoftmaxLoss(5, reduction="sum"), sampled_softmax_loss),
                       (NegativeSamplingLoss(5, reduction="sum"), negative_sampling_loss)]:
        module.generator = torch.Generator().manual_seed(samples_seed)
        rows = fn(h, w, t, 5, b, generator=torch.Generator().manual_seed(samples_seed), reduction="none")
        assert rows[0] == 0
        torch.testing.assert_close(module(h, w, t, b), rows.sum())
    mean = sampled_softmax_loss(h, w, t, 5, b, generator=torch.Generator().manual_seed(1))
    rows = sampled_softmax_loss(h, w, t, 5, b, generator=torch.Generator().manual_seed(1), reduction="none")
    torch.testing.assert_close(mean, rows.sum() / 5)
    nce = NCELoss(5, learn_log_z=True, log_z=1.5)
    loss = nce(h, w, t, b)
    loss.backward()
    assert nce.log_z.grad is not None and float(nce.log_z.grad) != 0.0


BAD = [
    (dict(target=torch.tensor([0, 9, 1])), "target 9 is out of range"),
    (dict(target=torch.tensor([0.0, 1.0, 1.0])), "integer"),
    (dict(target=torch.tensor([0, 1])), "target shape"),
    (dict(num_sampled=10), "num_sampled=10 exceeds the 9 classes"),
    (dict(num_sampled=0), "num_sampled must be a positive int"),
    (dict(sampler=LogUniformSampler(8)), "sampler must be a Sampler over 9 classes"),
    (dict(weight=torch.zeros(9, 3, dtype=torch.float64)), "weight must have shape"),
    (dict(bias=torch.zeros(3, dtype=torch.float64)), "bias must have shape"),
]


@pytest.mark.parametrize("change,message", BAD)
@pytest.mark.parametrize("loss_fn", [sampled_softmax_loss, nce_loss, negative_sampling_loss])
def test_bad_input_names_the_argument(loss_fn, change, message):
    args = dict(hidden=torch.zeros(3, 4, dtype=torch.float64), weight=torch.zeros(9, 4, dtype=torch.float64),
                target=torch.tensor([0, 1, 2]), num_sampled=3)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        loss_fn(**args)


def test_bad_sampler_arguments():
    with pytest.raises(ValueError, match=r"counts\[2\] = 0"):
        UnigramSampler([1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match=r"counts\[0\] = -3"):
        UnigramSampler([-3.0, 2.0])
    with pytest.raises(ValueError, match="num_classes"):
        LogUniformSampler(0)
    with pytest.raises(ValueError, match="num_sampled=6 exceeds"):
        UniformSampler(5).sample(6)
    assert UniformSampler(5, replacement=True).sample(6).ids.numel() == 6


def test_gradcheck_sampled_softmax_with_accidental_hits():
    h, w, b, _ = problem(n=5, d=3, v=7, seed=10)
    t = torch.tensor([1, 4, 4, 0, 6])
    samples = Samples(torch.tensor([4, 2, 6, 2]), torch.log(torch.tensor([0.5, 0.8, 0.3, 0.8], dtype=torch.float64)), 4)
    sampler = UniformSampler(7, replacement=True)
    f = lambda h, w, b: sampled_softmax_loss(h, w, t, 4, b, sampler, samples=samples, reduction="none")
    assert torch.autograd.gradcheck(f, (h, w, b))


def test_sampling_without_replacement_near_all_classes_returns():
    """Q = [1, 1e-30]: the rejection stream would need ~1e30 draws for the
    second class; the exact draw returns at once (in a subprocess, so a
    regression fails instead of hanging)."""
    import subprocess
    import sys

    code = ("import torch; from actlab.torch.large_output import UnigramSampler;"
            "s = UnigramSampler([1.0, 1e-30], power=1.0).sample(2, generator=torch.Generator().manual_seed(0));"
            "print(sorted(s.ids.tolist()), s.num_tries > 1e20, bool(torch.isfinite(s.log_expected_count).all()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["[0,", "1]", "True", "True"]


def test_exact_distinct_draw_has_the_rejection_streams_law():
    """The direct draw (Gumbel-top-k plus geometric waits) against the
    rejection stream it replaces: frequencies of the ordered candidate
    tuples and the mean stream length agree."""
    from collections import Counter

    sampler = UnigramSampler([50, 30, 15, 5], power=1.0)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    n = 3000
    stream = [sampler.sample(3, generator=g1) for _ in range(n)]
    exact = [sampler._distinct_exact(3, g2) for _ in range(n)]
    fa = Counter(tuple(s.ids.tolist()) for s in stream)
    fb = Counter(tuple(s.ids.tolist()) for s in exact)
    for key in set(fa) | set(fb):
        pa, pb = fa[key] / n, fb[key] / n
        assert abs(pa - pb) <= 4 * math.sqrt(max(pa, pb, 1 / n) / n), key
    ta = sum(s.num_tries for s in stream) / n
    tb = sum(s.num_tries for s in exact) / n
    assert abs(ta - tb) <= 0.1 * ta
