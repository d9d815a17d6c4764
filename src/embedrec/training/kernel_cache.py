"""Whether an engine's numba kernels still need compiling, so the user hears why the first run
pauses (bmf spends about 20 s compiling on a fresh install, with nothing else on screen).

Kernels are compiled with `cache=True`: numba keeps the machine code beside the sources and a
later process loads it in milliseconds. A kernel needs compiling when this process has not
compiled it and numba's cache index for it is missing or stale. numba has no public call for
that; its cache object is read defensively and, should its shape change, the answer is "needs
compiling" (a note too many, never a wrong result).
"""

from __future__ import annotations

from types import ModuleType

from numba.core.registry import CPUDispatcher


def kernels_of(module: ModuleType) -> list[CPUDispatcher]:
    """The module's kernels that are compiled on their own (inlined helpers are not)."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, CPUDispatcher) and value.targetoptions.get("inline") != "always"
    ]


def needs_compiling(kernel: CPUDispatcher) -> bool:
    if kernel.signatures:
        return False  # compiled (or loaded) in this process already
    try:
        cache = getattr(kernel, "_cache")  # noqa: B009 (private: read defensively)
        return not cache._cache_file._load_index()  # {} when missing or stale
    except Exception:  # numba's private cache object changed shape: say too much, not too little
        return True


def compile_note(modules: tuple[ModuleType, ...], engine: str) -> str | None:
    """A note for the user when any kernel of these modules still needs compiling."""
    if any(needs_compiling(k) for module in modules for k in kernels_of(module)):
        return f"compiling the {engine} engine's kernels (first run only; cached afterwards)"
    return None
