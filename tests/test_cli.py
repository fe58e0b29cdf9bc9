"""The ``actlab`` command line, called as ``actlab.cli.main([...])``: output
checked for content, mistakes answered with a clear message and status 2."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from gallery_fakes import stand_ins

import actlab
from actlab.cli import main


@pytest.fixture(scope="module")
def fakes():
    with stand_ins() as added:
        yield added


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(out):
    """Whitespace-split lines of a printed table."""
    return [line.split() for line in out.splitlines()]


# -- list ------------------------------------------------------------------

def test_list_shows_every_function_with_its_facts(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["name", "family", "kind", "output", "range", "properties", "parameters"]
    names = {r[0] for r in rows(out)[2:] if r}
    assert {e.name for e in actlab.registry()} <= names
    sigmoid = next(r for r in rows(out) if r and r[0] == "sigmoid")
    assert "[0," in sigmoid and "1]" in sigmoid and "monotone," in sigmoid
    softplus = next(line for line in out.splitlines() if line.startswith("softplus "))
    assert "beta = 1 (> 0)" in softplus


def test_list_filters_and_markdown(capsys, fakes):
    code, out, _ = run(capsys, "list", "--kind", "simplex", "--markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("| name | family |") and lines[1].startswith("|---|")
    assert any(line.startswith("| softmax |") for line in lines)
    assert not any(line.startswith("| sigmoid |") for line in lines)
    code, _, err = run(capsys, "list", "--family", "no such family")
    assert code == 2 and "no function matches" in err


# -- show ------------------------------------------------------------------

def value_row(out, x):
    return next(r for r in rows(out) if r and r[0] == x)


def test_show_prints_formula_properties_and_values(capsys):
    code, out, _ = run(capsys, "show", "sigmoid")
    assert code == 0
    e = actlab.get("sigmoid")
    assert e.latex in out and e.dlatex in out and "[0, 1]" in out
    assert value_row(out, "0")[1:] == ["0.5", "0.25"]  # sigmoid(0), sigmoid'(0)
    assert value_row(out, "inf")[1:] == ["1", "0"]
    assert value_row(out, "-inf")[1] == "0"


def test_show_with_parameters_and_points(capsys):
    code, out, _ = run(capsys, "show", "softplus", "--param", "beta=2", "--at=-1,0,1")
    assert code == 0
    assert float(value_row(out, "0")[1]) == pytest.approx(math.log(2) / 2, rel=1e-9)
    assert float(value_row(out, "1")[2]) == pytest.approx(1 / (1 + math.exp(-2)), rel=1e-9)
    assert [r[0] for r in rows(out) if r and r[0] in ("-1", "0", "1")] == ["-1", "0", "1"]


@pytest.mark.parametrize("name", ["glu", "maxout", "gelu", "prelu", "threshold"])
def test_show_every_kind(capsys, name):
    code, out, _ = run(capsys, "show", name)
    assert code == 0 and name in out


def test_show_vector_map_and_loss(capsys, fakes):
    code, out, _ = run(capsys, "show", "softmax", "--at=1,2")
    assert code == 0
    assert value_row(out, "1")[2] == "0.2689414214" and value_row(out, "2")[2] == "0.7310585786"  # seed 003
    code, out, _ = run(capsys, "show", "sparsemax_loss", "--at=-2,0,2")
    assert code == 0
    assert value_row(out, "-2")[1] == "2" and value_row(out, "0")[1] == "0.25" and value_row(out, "2")[1] == "0"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "sigmod"], "unknown function 'sigmod'"),
        (["show", "softplus", "--param", "beta=-1"], "beta must be > 0, got -1"),
        (["show", "softplus", "--param", "beta=abc"], "beta must be a number, got 'abc'"),
        (["show", "softplus", "--param", "gamma=1"], "softplus has no parameter 'gamma'; its parameters: beta"),
        (["show", "softplus", "--param", "beta"], "--param expects NAME=VALUE"),
        (["show", "softplus", "--param", "beta=1,2"], "one value per parameter"),
        (["show", "gelu", "--param", "approximate=fast"], "approximate must be one of ['none', 'tanh']"),
        (["show", "rrelu", "--param", "lower=0.5", "--param", "upper=0.2"], "lower"),
        (["show", "sigmoid", "--at=1,x"], "--at must be numbers"),
        (["plot", "swish", "--param", "beta=nan"], "beta"),
        (["plot", "hardtanh", "--param", "min_val=-1,-2", "--param", "max_val=1,2"], "sweep one parameter at a time"),
        (["plot", "sigmoid", "-o", "out.jpg"], "must end in one of"),
        (["plot", "sigmoid", "--xlim=3,1"], "--xlim must be two finite numbers"),
        (["plot", "sigmoid", "--plane"], "--plane draws vector maps only"),
        (["compare", "1", "2", "--maps", "relu,nosuchmap"], "none of the requested maps"),
        (["compare", "1", "2", "--temperature", "0"], "--temperature must be non-zero"),
        (["compare", "1", "two"], "scores must be numbers"),
    ],
)
def test_mistakes_get_a_clear_message_and_status_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_show_prints_nothing_before_an_error(capsys):
    code, out, err = run(capsys, "show", "rrelu", "--param", "lower=0.5", "--param", "upper=0.2")
    assert code == 2 and out == ""


def test_usage_errors_return_status_2(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert actlab.__version__ in capsys.readouterr().out


# -- plot ------------------------------------------------------------------

@pytest.mark.parametrize("ext,magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_plot_writes_the_format_of_the_extension(capsys, tmp_path, ext, magic):
    out = tmp_path / f"gelu.{ext}"
    code, text, _ = run(capsys, "plot", "gelu", "--derivative", "-o", str(out))
    assert code == 0 and f"wrote {out}" in text
    assert out.read_bytes()[:5].startswith(magic)


def test_plot_sweep_and_vector_maps(capsys, tmp_path, fakes):
    for argv in (["plot", "swish", "--param", "beta=0.1,1,10", "--xlim=-5,3"],
                 ["plot", "leaky_relu", "--param", "negative_slope=0.1", "--derivative"],
                 ["plot", "softmax", "--param", "temperature=0.5,1,2", "--derivative"],
                 ["plot", "sparsemax", "--plane"],
                 ["plot", "sparsemax_loss", "--derivative"]):
        out = tmp_path / f"{argv[1]}.png"
        code, _, err = run(capsys, *argv, "-o", str(out))
        assert code == 0, err
        assert out.stat().st_size > 5000


def test_plot_default_file_name(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "plot", "tanh")[0] == 0
    assert (tmp_path / "tanh.png").exists()


# -- compare ---------------------------------------------------------------

def test_compare_reproduces_seed_003(capsys, fakes):
    code, out, _ = run(capsys, "compare", "1", "2", "--maps", "softmax,sum_normalize")
    assert code == 0
    assert rows(out)[1] == ["i", "z_i", "softmax", "sum_normalize"]
    assert value_row(out, "1")[2:] == ["0.2689", "0.3333"]
    assert value_row(out, "2")[2:] == ["0.7311", "0.6667"]
    code, out, _ = run(capsys, "compare", "10", "20", "--maps", "softmax,sum_normalize", "--digits", "6")
    assert value_row(out, "1")[2:] == ["4.53979e-05", "0.333333"]  # scale changes softmax, not x / sum(x)
    assert value_row(out, "2")[2:] == ["0.999955", "0.666667"]


def test_compare_reports_what_it_cannot_do(capsys, fakes):
    code, out, _ = run(capsys, "compare", "-1", "2", "0.5", "--maps", "softmax,sparsemax,sum_normalize,relu,nosuch",
                       "--temperature", "0.5")
    assert code == 0
    assert "temperature 0.5" in out
    assert value_row(out, "non-zero")[1:] == ["3", "1"]  # sparsemax([-2, 4, 1]) is one-hot
    assert "sum_normalize: cannot be applied" in out
    assert "relu: not a vector map" in out
    assert "nosuch: not registered in this version of actlab" in out


def test_compare_plot(capsys, tmp_path, fakes):
    out = tmp_path / "cmp.svg"
    code, text, _ = run(capsys, "compare", "1,2,3", "--maps", "softmax,sparsemax", "--plot", str(out))
    assert code == 0 and out.read_text().lstrip().startswith("<?xml")


# -- gallery ---------------------------------------------------------------

def test_gallery_command(capsys, tmp_path, fakes):
    out = tmp_path / "site"
    code, text, err = run(capsys, "gallery", "--out", str(out), "--only", "sigmoid,tanh,leaky_relu,softmax",
                          "--format", "svg", "--jobs", "1")
    assert code == 0, err
    index = out / "index.html"
    assert f"open {index.resolve()}" in text
    assert "actlab gallery" in err  # the progress bar
    html = index.read_text()
    for name in ("sigmoid", "leaky_relu", "softmax"):
        assert f'href="f/{name}.html"' in html and (out / "f" / f"{name}.html").exists()
        assert (out / "fig" / f"{name}.png").exists() and (out / "fig" / f"{name}.svg").exists()
    assert (out / "fig" / "leaky_relu--negative_slope.png").exists()
    assert (out / "fig" / "softmax--plane.png").exists()
    assert "softplus" not in html
    comparisons = (out / "comparisons.html").read_text()
    assert "cmp-sigmoid-tanh.png" in comparisons
    assert "Not drawn: needs swish, not among the functions selected" in comparisons


def test_gallery_rejects_unknown_only(capsys, tmp_path):
    code, _, err = run(capsys, "gallery", "--out", str(tmp_path), "--only", "sigmoid,nosuch")
    assert code == 2 and "unknown function 'nosuch'" in err


# -- entry points and imports -------------------------------------------------

def test_python_dash_m_and_lazy_imports():
    code = (
        "import sys, actlab\n"
        "assert 'matplotlib' not in sys.modules and 'torch' not in sys.modules\n"
        "from actlab.cli import main\n"
        "assert main(['list']) == 0 and main(['show', 'gelu']) == 0\n"
        "assert 'matplotlib' not in sys.modules, 'list/show import matplotlib'\n"
        "import actlab.plot\n"
        "actlab.plot.function_figure(actlab.get('gelu'))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'figures use pyplot'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    res = subprocess.run([sys.executable, "-m", "actlab", "show", "relu", "--at=0"], capture_output=True, text=True)
    assert res.returncode == 0 and "relu" in res.stdout
