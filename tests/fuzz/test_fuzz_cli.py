"""Fuzz harness, the command line: every command on every registered name
with edge values, bad parameters and bad paths. Exit status 0 or 2, an
explanation on stderr, never a traceback; no file written or removed that
the command was not asked for.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest

import actlab
from actlab.cli import main

NAMES = [e.name for e in actlab.registry()]


def run(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    assert "Traceback" not in err.getvalue(), err.getvalue()
    assert rc in (0, 2), (args, rc, err.getvalue())
    if rc == 2:
        assert err.getvalue().strip(), f"{args}: exit 2 without an explanation"
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_show_every_function(name):
    """``show`` works for every registered name (reductions and random maps too)."""
    rc, out, err = run(["show", name])
    assert rc == 0, err
    assert name in out
    rc, out, err = run(["show", name, "--at=-inf,nan,1e308,-0,5e-324", "--digits", "17"])
    assert rc in (0, 2)
    if actlab.get(name).kind in ("elementwise", "gated", "grouped", "simplex", "reduction", "stochastic") \
            and name != "sum_normalize":
        assert rc == 0, err


@pytest.mark.parametrize("name", NAMES)
def test_show_bad_parameters(name):
    e = actlab.get(name)
    for p in e.params:
        for text in ("nan", "1e400", "x", "-1e308", ""):
            run(["show", name, "--param", f"{p.name}={text}"])
    run(["show", name, "--param", "nonexistent=1"])
    run(["show", name, "--digits", "0"])


@pytest.mark.parametrize("scores", [["1", "-inf"], ["-1", "-2"], ["-inf", "-inf"], ["nan", "1"], ["inf", "inf", "0"],
                                    ["1e308", "-1e308", "0"], ["-.5", "-1e-3"], ["1,2,-3"], ["x"], ["5e-324", "-0"]])
@pytest.mark.parametrize("extra", [[], ["--temperature", "0.5"], ["--temperature", "-1"], ["--maps", "softmax,nope,gelu"],
                                   ["--temperature", "nan"], ["--temperature", "0"]])
def test_compare_scores(scores, extra):
    rc, out, err = run(["compare", *scores, *extra])
    plain = not extra or extra[:2] == ["--temperature", "0.5"]
    if scores != ["x"] and plain:
        assert rc == 0, err


def test_compare_negative_infinity_is_a_score():
    rc, out, err = run(["compare", "1", "-inf"])
    assert rc == 0 and "-inf" in out


@pytest.mark.parametrize("args", [["list", "--kind", "nope"], ["list", "--family", "x"], ["show"], ["show", "nope"],
                                  ["plot", "nope"], ["gallery", "--jobs", "0"], ["gallery", "--only", "nope"],
                                  ["plot", "sigmoid", "--xlim=1,1"], ["plot", "sigmoid", "--xlim=nan,1"],
                                  ["plot", "cross_entropy", "--plane"], ["nope"], [], ["--version"]])
def test_bad_commands_are_explained(args):
    run(args)


def test_plot_refuses_bad_paths_without_touching_files(tmp_path):
    pytest.importorskip("matplotlib")
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    sub = tmp_path / "afile"
    sub.write_text("also mine")
    for out in [str(sub / "x.png"), str(tmp_path / "missing" / "x.png"), str(tmp_path / "x.txt"), str(tmp_path)]:
        rc, _, err = run(["plot", "sigmoid", "-o", out])
        assert rc == 2, (out, err)
    assert keep.read_text() == "mine" and sub.read_text() == "also mine"
    assert sorted(os.listdir(tmp_path)) == ["afile", "notes.txt"]


def test_gallery_out_naming_a_file_is_refused(tmp_path):
    f = tmp_path / "site"
    f.write_text("not a folder")
    rc, _, err = run(["gallery", "--out", str(f), "--only", "sigmoid", "--quiet"])
    assert rc == 2 and f.read_text() == "not a folder"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_plot_every_function(name, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{name}.png"
    rc, _, err = run(["plot", name, "--derivative", "-o", str(out)])
    if rc == 0:
        assert out.stat().st_size > 0
    else:
        assert "figure" in err or "kind" in err
