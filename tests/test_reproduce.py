"""actlab reproduce: each experiment at a tiny size (it runs, its rows have the
fields and the shape of the table), the metrics against scikit-learn and SciPy,
the scale experiment against the published numbers and mpmath, the figures and
the gallery page drawn from records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from actlab.reproduce import EXPERIMENTS, RECORDS, experiment, read_record, write_record
from actlab.reproduce._report import check_rows

pytest.importorskip("scipy")
pytest.importorskip("sklearn")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """As the command does: on a shared machine more BLAS threads mostly wait."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def test_names_are_the_issue_names():
    assert set(EXPERIMENTS) == {"sparsemax-proportions", "sparsemax-multilabel", "softmax-vs-normalization",
                                "large-vocabulary", "attention-saturation"}
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        experiment("nope")


def test_documents_follow_the_generative_story():
    from actlab.reproduce.proportions import make_documents

    for prop in ("uniform", "random"):
        x, q = make_documents(400, n_labels=6, length=300, proportions=prop, seed=3)
        assert x.shape == q.shape == (400, 6)
        np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        assert (q > 0).sum(axis=1).min() >= 1
        assert abs(x.sum(axis=1).mean() - 300) < 5  # Poisson(300) lengths: sd of the mean < 1
        if prop == "uniform":
            n = (q > 0).sum(axis=1)
            np.testing.assert_allclose(q.max(axis=1), 1.0 / n)
    # Poisson(1) labels, 0 rejected: P(n = 1) = e^-1 / (1 - e^-1) = 0.582
    _, q = make_documents(3000, n_labels=10, length=20, proportions="random", seed=4)
    assert abs(np.mean((q > 0).sum(axis=1) == 1) - math.exp(-1) / (1 - math.exp(-1))) < 0.03
    with pytest.raises(ValueError, match="proportions"):
        make_documents(3, 2, 10, "dirichlet")


def test_jsd_and_mse_against_scipy():
    from scipy.spatial.distance import jensenshannon

    from actlab.reproduce.proportions import jsd, mse

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), 20)
    q = rng.dirichlet(np.ones(5), 20)
    q[:, 0] = 0
    q /= q.sum(axis=1, keepdims=True)
    ref = np.mean([jensenshannon(a, b) ** 2 for a, b in zip(p, q)]) / 5  # averaged over labels too
    assert jsd(p, q) == pytest.approx(ref, rel=1e-10)
    assert mse(p, q) == pytest.approx(np.sum((p - q) ** 2) / p.size)


def test_f1_scores_against_sklearn():
    from sklearn.metrics import f1_score, precision_score, recall_score

    from actlab.reproduce.multilabel import f1_scores

    rng = np.random.default_rng(1)
    gold = rng.random((60, 7)) < 0.3
    pred = rng.random((60, 7)) < 0.3
    pred[:, 3] = False  # a label never predicted: precision 0
    micro, macro = f1_scores(gold, pred)
    assert micro == pytest.approx(f1_score(gold, pred, average="micro"))
    mp = precision_score(gold, pred, average="macro", zero_division=0)
    mr = recall_score(gold, pred, average="macro", zero_division=0)
    assert macro == pytest.approx(2 * mp * mr / (mp + mr))
    assert macro != pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))


def test_linear_model_gradient_matches_finite_differences():
    from actlab.reproduce.linear_models import LOSSES, objective, targets

    rng = np.random.default_rng(2)
    x = rng.standard_normal((15, 3))
    labels = (rng.random((15, 4)) < 0.4) | (np.arange(4) == rng.integers(0, 4, (15, 1)))
    w = rng.standard_normal(16) * 0.5
    for loss in LOSSES:
        y = targets(labels, loss)
        _, g = objective(w, x, y, loss, 0.1)
        h = 1e-6
        fd = [(objective(w + h * e, x, y, loss, 0.1)[0] - objective(w - h * e, x, y, loss, 0.1)[0]) / (2 * h)
              for e in np.eye(16)]
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_proportions_tiny():
    exp = experiment("sparsemax-proportions")
    rows = exp.run(progress=False, labels=(5,), lengths=(40, 400), lambdas=(1e-1, 1e-3), folds=2, n_train=80,
                   n_test=60, max_iter=15)
    check_rows(exp, rows)
    assert len(rows) == 2 * 2 * 2  # lengths x proportions x losses
    assert all(0 <= r["jsd"] < math.log(2) and 0 <= r["mse"] < 1 for r in rows)
    header, body = exp.table(rows)
    assert len(body) == 4 and len(header) == len(body[0])


def test_multilabel_tiny():
    pytest.importorskip("river")
    from actlab.reproduce.multilabel import load_yeast

    x, y = load_yeast()
    assert x.shape == (2417, 103) and y.shape == (2417, 14) and y.sum(axis=1).min() >= 1
    exp = experiment("sparsemax-multilabel")
    rows = exp.run(progress=False, data=(x[:160], y[:160]), lambdas=(1e-2,), folds=2, n_train=110, max_iter=15)
    check_rows(exp, rows)
    assert [r["loss"] for r in rows] == ["logistic", "softmax", "sparsemax"]
    assert all(0 < r["micro_f1"] <= 1 and 0 < r["macro_f1"] <= 1 for r in rows)


def test_scale_experiment_published_numbers():
    import mpmath

    from actlab.reproduce.normalization import gradient_rows, scale_rows

    p = {(r["map"], tuple(r["scores"])): r["p"] for r in scale_rows()}
    # the numbers printed in the answer that the comparison comes from
    np.testing.assert_allclose(p["softmax", (1.0, 2.0)], [0.26894142, 0.73105858], rtol=0, atol=5e-9)
    np.testing.assert_allclose(p["softmax", (10.0, 20.0)], [0.0000453978687, 0.999954602], rtol=1e-8)
    np.testing.assert_allclose(p["sum_normalize", (10.0, 20.0)], [1 / 3, 2 / 3], rtol=1e-15)
    for z in ((1, 2), (10, 20)):  # and at 40 digits
        e = [mpmath.e ** mpmath.mpf(v) for v in z]
        ref = [float(v / sum(e)) for v in e]
        np.testing.assert_allclose(p["softmax", (float(z[0]), float(z[1]))], ref, rtol=1e-14)
    for r in gradient_rows((1.0, 10.0, 50.0)):
        c = r["scale"]
        if r["map"] == "softmax":  # gradient p - e_0 = [-p_1, p_1]
            assert r["grad_norm"] == pytest.approx(math.sqrt(2) / (1 + math.exp(-c)), rel=1e-12)
        else:  # -log(z_0 / (z_0 + z_1)) at c [1, 2]: log 3, gradient [-2, 1] / (3 c)
            assert r["loss"] == pytest.approx(math.log(3), rel=1e-14)
            assert r["grad_norm"] == pytest.approx(math.sqrt(5) / (3 * c), rel=1e-12)


def test_normalization_classifier_tiny():
    from actlab.reproduce.normalization import MAPS, classifier_rows

    rows = classifier_rows(epochs=4, step_sizes=(0.3,), n_train=300)
    assert [r["map"] for r in rows] == list(MAPS)
    for r in rows:
        assert len(r["curve"]) == len(r["checkpoints"]) and 0 <= r["test_accuracy"] <= 1
        assert math.isfinite(r["train_nll"]) and math.isfinite(r["test_nll"])


def test_large_vocabulary_tiny(tmp_path):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdefgh"), 4)) for _ in range(40)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words, 8)) + "." for _ in range(200)))
    exp = experiment("large-vocabulary")
    rows = exp.run(progress=False, corpus=str(corpus), steps=3, batch=16, num_sampled=8, d=8, emb=8)
    check_rows(exp, rows)
    assert [r["loss"] for r in rows] == ["full", "fused", "hierarchical", "sampled", "nce"]
    assert all(1 < r["ppl"] < 100 and r["epoch_s"] > 0 for r in rows)  # V <= 40 words + 3 symbols


def test_cli_json_plot_and_gallery_records(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from actlab.cli import main
    from actlab.plot.gallery import plan
    from actlab.plot.reproductions import draw_record, records

    out = tmp_path / "attention-saturation.json"
    png = tmp_path / "sat.png"
    assert main(["reproduce", "attention-saturation", "--dims", "8,64", "--queries", "8", "--quiet",
                 "--json", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "The paper:" in text and "This run:" in text and "softmax unscaled" in text
    record = json.loads(out.read_text())
    assert record["experiment"] == "attention-saturation" and len(record["rows"]) == 2 * 2 * 3
    assert png.stat().st_size > 1000
    assert main(["reproduce", "sparsemax-multilabel", "--dims", "8"]) == 2
    assert list(records(tmp_path)) == ["attention-saturation"]
    jobs, _ = plan([], reproductions=tmp_path)
    assert [j.stem for j in jobs if j.what[0] == "reproduction"] == ["fig/repro-attention-saturation"]
    assert draw_record(out).axes


def test_every_figure_draws_from_tiny_rows(tmp_path):
    pytest.importorskip("matplotlib")
    from actlab.plot.reproductions import DRAWERS, figure
    from actlab.reproduce.normalization import classifier_rows, gradient_rows, scale_rows

    rows = {
        "sparsemax-proportions": [{"loss": loss, "K": 10, "length": ell, "proportions": prop, "jsd": 0.01, "mse": 0.02}
                                  for loss in ("softmax", "sparsemax") for ell in (200, 400)
                                  for prop in ("uniform", "random")],
        "sparsemax-multilabel": [{"loss": n, "micro_f1": 0.6, "macro_f1": 0.4} for n in ("logistic", "softmax")],
        "softmax-vs-normalization": scale_rows() + gradient_rows((1.0, 2.0))
        + classifier_rows(epochs=2, step_sizes=(0.1,), n_train=100),
        "large-vocabulary": [{"loss": n, "ppl": 80.0, "epoch_s": 100.0, "train_s": 10.0} for n in ("full", "nce")],
        "attention-saturation": [{"normalizer": "softmax", "d_k": d, "scaled": s, "grad_norm": 1.0, "max_weight": 0.5,
                                  "support": 64.0} for d in (8, 16) for s in (True, False)],
    }
    assert set(rows) == set(DRAWERS)
    for name, r in rows.items():
        check_rows(experiment(name), r)
        path = tmp_path / f"{name}.json"
        write_record(path, experiment(name), r, {"full": False})
        assert read_record(path)["rows"] == json.loads(json.dumps(r))
        assert figure(name, r).axes
    with pytest.raises(ValueError, match="no rows"):
        figure("large-vocabulary", [])


def test_shipped_records_have_the_fields():
    for path in sorted(RECORDS.glob("*.json")):
        record = read_record(path)
        check_rows(experiment(path.stem), record["rows"])
