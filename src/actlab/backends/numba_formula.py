"""One numba loop per element-wise formula, generated from its one definition.

:func:`actlab.backends.formula_trace.trace` runs a formula on a symbol and
records the graph of scalar operations of one entry; :func:`compile_graph`
writes that graph as the body of a loop over flat arrays and compiles it
with numba. The loop makes one pass over memory with every intermediate in
a register: where the array form of a formula takes a few hundred passes
(the double-word arithmetic of the float64 derivatives) or a wider dtype
(float32 results computed in float64), the loop takes one, and computes
the same operations in the same order, each rounded as the array ops round
it (no fast-math: no reassociation, no contraction into fused multiply-adds),
in 512-bit vectors where the CPU has them (:mod:`.numba_width`).

Common subexpressions are shared, dead ones dropped; numbers take the dtype
of the symbol they meet (the array API's weak scalars). The elementary
functions of float64 are the branch-free ones of
:mod:`actlab.backends.numba_libm` (so LLVM vectorises the loop); the
others (sin, cos, cosh, sinh, erfc) libm's.

Example:
    >>> import numpy as np
    >>> from actlab.backends.formula_trace import trace
    >>> from actlab.backends.numba_formula import compile_graph
    >>> k = compile_graph(trace(lambda x, *, xp: xp.exp(-x) * 2.0, np.float64))
    >>> k.run(np.array([0.0, 1.0]), out=np.empty(2)).round(6).tolist()
    [2.0, 0.735759]
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from .._activation import ElementwiseSpec, evaluate
from .compile_notice import CompileNotice
from .formula_trace import Symbol, Untraceable, trace
from .numba_libm import lexp, lexpm1, llog, llog1p, ltanh
from .numba_width import empty_apart, wide

__all__ = ["Loop", "compile_graph", "loop_source", "elementwise_loop", "run_on", "cache_dir", "LOOP_NOTICE"]

_CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_CAST = {np.dtype(np.float32): "_f32", np.dtype(np.float64): "_f64", np.dtype(bool): "_bool"}
_LIBM = ("exp", "expm1", "log", "log1p", "tanh", "sin", "cos", "cosh", "sinh", "erfc")


_VECTOR = {"exp": lexp, "expm1": lexpm1, "log": llog, "log1p": llog1p, "tanh": ltanh}
"""The branch-free float64 functions of numba_libm, by operation name."""


@dataclass
class Loop:
    """A compiled loop: ``run(*inputs, out=out)`` writes the formula of each
    entry of the flat, equally long ``inputs`` into ``out``; ``source`` is
    the generated Python, ``compile_s`` the seconds numba took."""

    source: str
    function: Any
    compile_s: float

    def run(self, *inputs: np.ndarray, out: np.ndarray, threads: int = 1) -> np.ndarray:
        """The loop over the whole arrays; with ``threads > 1`` and at least
        :data:`PARALLEL_MIN` entries, over that many contiguous slices at
        once (the kernel releases the GIL; each entry is computed on its
        own, so the result is the same)."""
        n = out.shape[0]
        if threads <= 1 or n < PARALLEL_MIN:
            self.function(*inputs, out)
            return out
        step = -(-n // threads)

        def part(i: int) -> None:
            self.function(*(a[i:i + step] for a in inputs), out[i:i + step])

        list(_pool(threads).map(part, range(0, n, step)))
        return out


PARALLEL_MIN = 1 << 18
"""The fewest entries a loop splits between threads."""
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="actlab-loop")
    return _POOLS[threads]


@nb.njit(inline="always")
def _from_bf16(b: Any) -> Any:
    """The float32 value of bfloat16 bits (exact)."""
    return np.uint32(np.uint32(b) << np.uint32(16)).view(np.float32)


@nb.njit(inline="always")
def _to_bf16(f: Any) -> Any:
    """float32 rounded to the nearest bfloat16 (ties to even; NaN stays NaN), as bits."""
    b = np.float32(f).view(np.uint32)
    r = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return np.uint16(0x7FC0) if f != f else np.uint16(r)


def loop_source(y: Symbol, n_inputs: int = 1, scale_by_last: bool = False,
                bfloat16: bool = False) -> tuple[str, dict[str, Any]]:
    """The Python source of ``kernel(x0, ..., out)`` computing ``y`` per
    entry, and the globals it needs. ``scale_by_last``: one more input ``g``
    and ``out[i] = g[i] * y`` (a VJP; the product in y's dtype).
    ``bfloat16``: the arrays hold bfloat16 bits (uint16), read as the
    float32 inputs of ``y`` and written rounded from its float32 result
    (a VJP as torch forms it: ``g`` times the rounded ``y``, rounded)."""
    env: dict[str, Any] = {"np": np, "math": math, "_f32": np.float32, "_f64": np.float64, "_bool": np.bool_,
                           "_from_bf16": _from_bf16, "_to_bf16": _to_bf16, "_wide": wide}
    env.update({f"_v_{op}": f for op, f in _VECTOR.items()})
    names: dict[int, str] = {}  # symbol serial -> variable
    shared: dict[tuple[Any, ...], str] = {}  # structural key -> variable
    lines: list[str] = []

    def operand(v: Any, dtype: np.dtype) -> str:
        if isinstance(v, Symbol):
            return names[v.serial]
        if isinstance(v, bool):
            return "True" if v else "False"
        key = ("const", _spelling(v), dtype.str)
        if key not in shared:
            name = f"_c{len(shared)}"
            env[name] = np.dtype(dtype).type(v)
            shared[key] = name
        return shared[key]

    def other_dtype(s: Symbol) -> np.dtype:
        syms = [a for a in s.args if isinstance(a, Symbol) and a.dtype != np.dtype(bool)]
        return syms[0].dtype if syms else s.dtype

    for s in _ordered(y):
        if s.op == "input":
            if s.args[0] >= n_inputs:
                raise Untraceable(f"input {s.args[0]} of a loop over {n_inputs}")
            expr = f"_from_bf16(x{s.args[0]}[i])" if bfloat16 else f"x{s.args[0]}[i]"
        else:
            expr = _expression(s, lambda v, s=s: operand(v, other_dtype(s) if s.op != "where" else s.dtype),
                               env)
        key = (s.op, tuple(names[a.serial] if isinstance(a, Symbol) else _spelling(a) for a in s.args),
               s.dtype.str)
        if key in shared:
            names[s.serial] = shared[key]
            continue
        var = f"v{len(names)}"
        names[s.serial] = shared[key] = var
        lines.append(f"        {var} = {expr}")
    args = [f"x{k}" for k in range(n_inputs)] + (["g"] if scale_by_last else [])
    result = names[y.serial]
    if bfloat16:
        if y.dtype != np.dtype(np.float32):
            raise Untraceable("a bfloat16 loop needs a float32 result to round")
        store = f"_to_bf16(_from_bf16(g[i]) * _from_bf16(_to_bf16({result})))" if scale_by_last else f"_to_bf16({result})"
    else:
        store = f"{_CAST[y.dtype]}(g[i] * {result})" if scale_by_last else result
    src = "\n".join([f"def kernel({', '.join(args)}, out):", "    _wide()", "    for i in range(out.shape[0]):", *lines,
                     f"        out[i] = {store}", ""])
    return src, env


def _spelling(v: Any) -> Any:
    """A number as a key that tells -0.0 from 0.0 (which compare equal) and keeps every NaN apart."""
    return (type(v), float(v).hex() if isinstance(v, float) else v)


def _ordered(y: Symbol) -> list[Symbol]:
    """The symbols ``y`` depends on, each once, operands first (creation order)."""
    seen: dict[int, Symbol] = {}
    stack = [y]
    while stack:
        s = stack.pop()
        if s.serial in seen:
            continue
        seen[s.serial] = s
        stack.extend(a for a in s.args if isinstance(a, Symbol))
    return [seen[k] for k in sorted(seen)]


_TEMPLATES = {
    **{op: f"{{c}}({{0}} {sym} {{1}})" for op, sym in _ARITH.items()},
    **{op: f"({{0}} {sym} {{1}})" for op, sym in _CMP.items()},
    **{op: f"{{c}}(np.{op}({{args}}))" for op in ("isfinite", "isinf", "floor", "ceil", "trunc", "sign", "sqrt",
                                                  "copysign")},
    "pow": "{c}({0} ** {1})", "and": "({0} & {1})", "or": "({0} | {1})", "not": "(not {0})",
    "where": "({1} if {0} else {2})", "cast": "{c}({0})", "neg": "(-{0})", "abs": "abs({0})",
    "isnan": "({0} != {0})",
    "clip_min": "({1} if {0} < {1} else {0})", "clip_max": "({1} if {0} > {1} else {0})",  # (NaN stays NaN)
    "maximum": "({1} if (({1} > {0}) | ({1} != {1})) else {0})",  # (NaN in either gives NaN)
    "minimum": "({1} if (({1} < {0}) | ({1} != {1})) else {0})",
}
"""Each operation as a numba expression of its operands ``{0}, {1}, ...``
(``{args}``: all of them) rounded by ``{c}``, the cast to its dtype."""


def _expression(s: Symbol, arg: Any, env: dict[str, Any]) -> str:
    """One operation as a numba expression, rounded to the symbol's dtype."""
    op, args = s.op, [arg(v) for v in s.args]
    cast = _CAST.get(s.dtype)
    if cast is None:
        raise Untraceable(f"a loop cannot hold dtype {s.dtype}")
    if op == "const":
        return args[0]
    if op in _LIBM:
        if s.args[0].dtype == np.dtype(np.float64) and f"_v_{op}" in env:
            return f"_v_{op}({args[0]})"
        return f"{cast}(math.{op}({args[0]}))"
    template = _TEMPLATES.get(op)
    if template is None:
        raise Untraceable(f"no loop form for the operation {op!r}")
    return template.format(*args, c=cast, args=", ".join(args))


def compile_graph(y: Symbol, n_inputs: int = 1, scale_by_last: bool = False, bfloat16: bool = False) -> Loop:
    """Compile the loop of ``y`` (see :func:`loop_source`); raises
    :class:`Untraceable` for a graph a loop cannot hold. The source is
    written once to actlab's cache directory (:func:`cache_dir`), so that
    numba keeps the machine code between processes; where that directory
    cannot be written, the loop is compiled in memory."""
    src, env = loop_source(y, n_inputs, scale_by_last, bfloat16)
    t0 = time.perf_counter()
    text = _module_text(src, env)
    path = cache_dir() / f"actlab_loop_{hashlib.sha256(text.encode()).hexdigest()[:24]}.py"
    with _exclusive(path):  # (another process compiling the same loop: wait, then load its machine code)
        fn = _cached_kernel(text, path)
        if fn is None:
            exec(compile(src, "<actlab loop>", "exec"), env)  # noqa: S102 (generated from a closed vocabulary)
            fn = nb.njit(nogil=True, error_model="numpy")(env["kernel"])
        dt = np.dtype(np.uint16) if bfloat16 else y.dtype
        xs = [np.empty(1, dtype=dt if bfloat16 else _input_dtype(y, k)) for k in range(n_inputs)]
        fn(*xs, *([np.empty(1, dtype=dt)] if scale_by_last else []), np.empty(1, dtype=dt))
    return Loop(src, fn, time.perf_counter() - t0)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``path`` (POSIX ``flock``; nothing where
    that is not possible)."""
    try:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path.with_suffix(".lock"), "a")  # noqa: SIM115 (held for the whole block)
    except (ImportError, OSError):
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cache_dir() -> Path:
    """Where the generated loops are kept: ``$ACTLAB_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/actlab`` (``~/.cache/actlab``), subfolder ``loops``."""
    root = os.environ.get("ACTLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "actlab")
    return Path(root) / "loops"


def _module_text(src: str, env: dict[str, Any]) -> str:
    """``src`` as a module of its own: its globals spelled out (numbers
    exactly, by their hex form), the kernel decorated to be cached."""
    global _LIBRARY_STAMP
    _LIBRARY_STAMP = _LIBRARY_STAMP or _library_stamp()
    head = ["import math", "import numba as nb", "import numpy as np",
            "_f32, _f64, _bool = np.float32, np.float64, np.bool_"]
    for name, v in env.items():
        if isinstance(v, np.generic):
            head.append(f"{name} = np.{type(v).__name__}(float.fromhex({float(v).hex()!r}))")
        elif hasattr(v, "py_func"):
            head.append(f"from {v.py_func.__module__} import {v.py_func.__name__} as {name}")
        elif v is wide:
            head.append(f"from {__package__}.numba_width import wide as {name}")
    deco = '@nb.njit(nogil=True, error_model="numpy", cache=True)'
    return "\n".join([f"# generated by actlab ({_LIBRARY_STAMP})", *head, "", "", deco, src])


def _library_stamp() -> str:
    """A digest of the modules a loop inlines (a new version compiles anew)."""
    from . import numba_libm, numba_vecmath, numba_width

    h = hashlib.sha256()
    for mod in (sys.modules[__name__], numba_libm, numba_vecmath, numba_width):
        h.update(Path(mod.__file__ or "").read_bytes())
    return h.hexdigest()[:16]


_LIBRARY_STAMP = ""


def _cached_kernel(text: str, path: Path) -> Any:
    """The kernel imported from its module file ``path`` (``text`` written
    there first if absent), or None where that fails."""
    try:
        name, folder = path.stem, path.parent
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
                f.write(text)
            os.replace(f.name, path)  # (atomic: another process may write the same file)
        spec = importlib.util.spec_from_file_location(name, path)
        module = sys.modules.get(name) or importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        if name not in sys.modules:
            sys.modules[name] = module  # (numba's cache finds the kernel's globals by module name)
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module.kernel
    except (OSError, ImportError):
        return None


def _input_dtype(y: Symbol, k: int) -> np.dtype:
    for s in _ordered(y):
        if s.op == "input" and s.args[0] == k:
            return s.dtype
    return y.dtype


LOOP_NOTICE = CompileNotice("actlab: compiling an element-wise loop with numba (first call of a function "
                            "for a dtype; cached afterwards)...", delay=1.0)
"""The notice shown while a loop's first call compiles for more than a second."""
_LOOPS: dict[tuple[Any, ...], Loop] = {}


def elementwise_loop(spec: ElementwiseSpec, dtype: Any, values: tuple[Any, ...], derivative: bool = False,
                     scaled: bool = False) -> Loop:
    """The loop of ``spec``'s value (``derivative``: its derivative; ``scaled``:
    ``g f'(x)``, a second input ``g``) at parameter ``values`` for arrays of
    ``dtype`` (``"bfloat16"``: uint16 arrays of bfloat16 bits), exactly as
    :func:`actlab._activation.evaluate` computes it (working precision, one
    rounding to ``dtype``); compiled once per process. Raises
    :class:`Untraceable` where the formula has no loop form."""
    key = (spec.name, dtype, values, derivative, scaled)
    loop = _LOOPS.get(key)
    if loop is None:
        bf16 = isinstance(dtype, str) and dtype == "bfloat16"
        dt = np.dtype(np.float32) if bf16 else np.dtype(dtype)
        fn = spec.derivative if derivative else spec.math
        promote = ("derivative" if derivative else "forward") in spec.promote32

        def entry(x: Any, *params: Any, xp: Any) -> Any:  # (bfloat16: float32 is its working dtype)
            return fn(x, *params, xp=xp) if bf16 else evaluate(fn, x, params, xp, promote)

        y = trace(entry, dt, *values)
        loop = _LOOPS[key] = LOOP_NOTICE.wrap(compile_graph, lambda *a, **k: key)(y, 1, scaled, bf16)
    return loop


def run_on(spec: ElementwiseSpec, x: np.ndarray, values: tuple[Any, ...], derivative: bool = False) -> np.ndarray:
    """The loop of ``spec`` (its derivative) on a float32 or float64 ndarray:
    a new C-ordered array shaped like ``x``."""
    loop = elementwise_loop(spec, x.dtype, values, derivative)
    xs = np.ascontiguousarray(x)
    out = empty_apart(xs)  # (2 KiB from x modulo 4 KiB: no 4K-aliasing stalls)
    loop.run(xs.reshape(-1), out=out.reshape(-1))
    return out
