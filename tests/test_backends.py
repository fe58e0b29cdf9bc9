"""The backend layer: resolution, declared capabilities, and the layering
rules the core keeps (no framework knowledge outside ``actlab.backends``)."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import actlab
from actlab._backend import Backend, Kernels, backend_of

SRC = pathlib.Path(actlab.__file__).parent
CORE = ["_activation.py", "_simplex.py", "_xp.py", "_special.py", "_codegen.py", "_backend.py", "registry.py",
        "elementwise", "simplex", "losses", "_attention"]


def core_files():
    for name in CORE:
        p = SRC / name
        yield from (sorted(p.rglob("*.py")) if p.is_dir() else [p])


def test_numpy_and_scalars_resolve_to_the_numpy_backend():
    b = backend_of(np.zeros(2))
    assert b.name == "numpy" and backend_of(np.float32(1.0)) is b
    assert b.warns_on_overflow and not b.accurate_float32


def test_torch_backend_is_cached_by_type():
    torch = pytest.importorskip("torch")
    b = backend_of(torch.zeros(1))
    assert b.name == "torch" and backend_of(torch.ones(3, dtype=torch.float64)) is b
    assert b.accurate_float32 and not b.warns_on_overflow


def test_other_namespaces_get_the_generic_backend():
    xps = pytest.importorskip("array_api_strict")
    b = backend_of(xps.asarray([1.0]))
    assert type(b) is Backend and b.kernels == Kernels()
    assert b.exp is not None and b.may_branch(xps.asarray([1.0]))
    np.testing.assert_allclose(np.from_dlpack(actlab.softplus(xps.asarray([0.0]))), [np.log(2.0)])


def test_unknown_input_is_a_clear_type_error():
    with pytest.raises(TypeError, match="x must be an array or a number, got object"):
        actlab.sigmoid(object())


def test_torch_declares_every_kernel_it_is_expected_to_have():
    """A kernel removed from the torch backend is an error here, never a
    silent fallback to the slower formula."""
    pytest.importorskip("torch")
    from actlab.backends.torch import BACKEND

    missing = [n for n in Kernels.names() if getattr(BACKEND.kernels, n) is None]
    assert missing == []
    assert all(callable(getattr(BACKEND.kernels, n)) for n in Kernels.names())


def test_numpy_declares_scipy_special_functions():
    from actlab.backends.numpy import BACKEND

    assert BACKEND.kernels.erfc is not None and BACKEND.kernels.erfcx is not None
    assert BACKEND.kernels.put_along_last is not None


def test_each_kernel_the_core_asks_for_is_declared():
    """Every ``xp.kernels.NAME`` the core reads is a field of Kernels (so a
    typo cannot silently read as 'no kernel')."""
    used = set()
    for path in core_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "kernels"):
                used.add(node.attr)
    assert used and used <= set(Kernels.names())


@pytest.mark.parametrize("path", list(core_files()), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_has_no_framework_knowledge(path):
    text = path.read_text()
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for n in names:
                assert n.split(".")[0] not in ("torch", "jax", "numba"), f"{path}: imports {n}"
                assert "backends" not in n.split(".") and not n.startswith(("torch", ".torch", "..torch")), n
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and node.args:
            first, key = node.args[0], node.args[1] if len(node.args) > 1 else None
            names_kernel = not isinstance(key, ast.Constant) or str(key.value).startswith("native")
            assert not (isinstance(first, ast.Name) and first.id == "xp" and names_kernel), (
                f"{path}: a kernel looked up by string")
            assert not (isinstance(first, ast.Attribute) and first.attr == "kernels"), f"{path}: kernels by string"
    assert "is_torch" not in text


def test_numpy_use_loads_no_framework_backend():
    code = ("import sys, numpy as np, actlab; actlab.sigmoid(np.ones(3)); actlab.sparsemax(np.ones(3));"
            "print(sorted(m for m in sys.modules if m.startswith(('torch', 'jax', 'actlab.backends.torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_function_has_its_own_code_object():
    """torch.compile caches per code object: shared ones hit its recompile limit."""
    fns = [e.function for e in actlab.registry() if e.kind in ("elementwise", "simplex")]
    codes = {id(getattr(f, "__code__", f)) for f in fns}
    assert len(codes) == len(fns)


def test_numpy_logistic_lanes_are_declared_and_agree_with_the_formula():
    """sigmoid and log_sigmoid on ndarrays take SciPy's ufuncs (guarded for
    sigmoid's subnormal tail): taken, and within 4 ULP of actlab's formula
    on edge values, 0-d, read-only and strided input."""
    import scipy.special as sc

    from actlab.backends.numpy import BACKEND

    for name in ("sigmoid", "log_sigmoid"):
        spec = actlab.get(name).extra["spec"]
        assert BACKEND.elementwise_lanes(spec) is not None
    x = np.array([-1e308, -800.0, -745.0, -709.5, -708.0, -88.5, -30.0, -0.0, 0.0, 1e-310, 5.0, 800.0,
                  np.inf, -np.inf, np.nan])
    for dt in (np.float64, np.float32):
        with np.errstate(over="ignore"):
            v = x.astype(dt)
        v.setflags(write=False)
        for name in ("sigmoid", "log_sigmoid"):
            spec = actlab.get(name).extra["spec"]
            want = spec.value(v.copy(), (), BACKEND)
            got = getattr(actlab, name)(v)
            np.testing.assert_array_max_ulp(got, want, maxulp=4)
            np.testing.assert_array_max_ulp(getattr(actlab, name)(v[::2]), want[::2], maxulp=4)
    assert actlab.sigmoid(np.array(0.0)).shape == () and float(actlab.sigmoid(np.array(-745.0))) > 0
    assert float(sc.expit(-745.0)) == 0.0  # why the guard: SciPy loses this subnormal
