"""A one-line notice on stderr while a compiled kernel's first call is slow.

numba compiles a kernel on its first call for each type signature and keeps
the machine code in its cache; on a fresh cache the sparse maps' kernels
take tens of seconds to compile, with nothing on the screen. A
:class:`CompileNotice` wraps the kernels' entry points: the first call for
each kind of input starts a timer, and if the call is still running after
``delay`` seconds (compiling, not loading from the cache) the notice is
printed, once per process.

Example:
    >>> import time
    >>> notice = CompileNotice("compiling...", delay=0.05)
    >>> slow = notice.wrap(lambda x: time.sleep(0.2) or x)
    >>> slow(1)  # prints "compiling..." to stderr after 0.05 s
    1
    >>> notice.printed
    True
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["CompileNotice", "SPARSE_NOTICE", "SOFTMAX_NOTICE"]


class CompileNotice:
    """``message`` on stderr, at most once, when a first call outlasts ``delay`` seconds."""

    def __init__(self, message: str, delay: float = 2.0) -> None:
        self.message, self.delay = message, delay
        self.printed = False
        self._seen: set[Hashable] = set()
        self._lock = threading.Lock()

    def _tell(self) -> None:
        with self._lock:
            if not self.printed:
                self.printed = True
                print(self.message, file=sys.stderr, flush=True)

    def wrap(self, fn: Callable[..., Any], key: Callable[..., Hashable] = lambda *a, **k: None) -> Callable[..., Any]:
        """``fn`` with the notice armed on the first call of each ``key(*args)``
        (the input kinds that compile separately: dtype, row-length class)."""

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.printed:
                return fn(*args, **kwargs)
            k = (fn.__name__, key(*args, **kwargs))
            if k in self._seen:
                return fn(*args, **kwargs)
            self._seen.add(k)
            timer = threading.Timer(self.delay, self._tell)
            timer.daemon = True
            timer.start()
            try:
                return fn(*args, **kwargs)
            finally:
                timer.cancel()

        return call


SPARSE_NOTICE = CompileNotice("actlab: compiling the sparse kernels with numba (first call, cached afterwards)...")
"""The notice of the sparse maps' numba kernels (sparsemax, entmax and their VJPs)."""

SOFTMAX_NOTICE = CompileNotice("actlab: compiling the softmax kernels with numba (first call, cached afterwards)...")
"""The notice of the fused float32 softmax / cross-entropy kernels of CPU tensors."""
