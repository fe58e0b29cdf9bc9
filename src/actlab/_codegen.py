"""Public functions with real signatures and code objects of their own.

The decorators (:func:`actlab._activation.activation`,
:func:`actlab._simplex.simplex_map`) make each public function from one
definition. A closure shared by all of them would give every function the
same code object, and ``torch.compile`` caches compiled frames per code
object: compiling a few of them one by one then hits its recompile limit.
So each function is generated here, with its parameters spelled out (which
also gives ``help()`` and ``inspect`` the real signature and makes a call
with default arguments cheap).

Each generated function enters its input's backend *precision scope*
(:func:`actlab._backend.scope_of`; None, and nothing entered, except for
JAX without 64-bit mode) around the whole call.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from typing import Any

from ._backend import scope_of

__all__ = ["generated_function", "REQUIRED_ARG"]

REQUIRED_ARG = object()
"""Marks a parameter without a default."""


def generated_function(
    name: str,
    qualname: str,
    module: str,
    positional: Sequence[tuple[str, Any]],
    keyword_only: Sequence[tuple[str, Any]],
    target: Callable[..., Any],
    doc: str | None,
    first: Sequence[str] = ("x",),
    annotations: dict[str, Any] | None = None,
) -> Callable[..., Any]:
    """``def name(*first, /, positional..., *, keyword_only...)`` calling
    ``target(*first, (positional...), keyword_only...)``; ``annotations``
    become its ``__annotations__`` (what ``help()`` and ``inspect`` show)."""
    names = [*first, *(n for n, _ in positional), *(n for n, _ in keyword_only)]
    for n in names:
        if not n.isidentifier() or keyword.iskeyword(n):
            raise ValueError(f"not a parameter name: {n!r}")
    env: dict[str, Any] = {"_target": target, "_scope_of": scope_of}

    def spell(items: Sequence[tuple[str, Any]], tag: str) -> list[str]:
        out = []
        for i, (n, default) in enumerate(items):
            if default is REQUIRED_ARG:
                out.append(n)
            else:
                env[f"_{tag}{i}"] = default
                out.append(f"{n}=_{tag}{i}")
        return out

    params = [*first, "/", *spell(positional, "p")]
    if keyword_only:
        params += ["*", *spell(keyword_only, "k")]
    packed = "(" + "".join(f"{n}, " for n, _ in positional) + ")"
    call = ", ".join([*first, packed, *(f"{n}={n}" for n, _ in keyword_only)])
    src = (
        f"def {name}({', '.join(params)}):\n"
        f"    _scope = _scope_of({first[0]})\n"
        f"    if _scope is None:\n"
        f"        return _target({call})\n"
        f"    with _scope:\n"
        f"        return _target({call})\n"
    )
    exec(compile(src, f"<actlab.{qualname}>", "exec"), env)  # noqa: S102 - names checked above
    fn = env[name]
    fn.__qualname__ = qualname
    fn.__module__ = module
    fn.__doc__ = doc
    fn.__annotations__ = dict(annotations or {})
    return fn
