"""A pytest plugin: the CPU seconds of each test (this process's threads, plus the child
processes it waited for: CLI subprocesses, ranks, notebook kernels), which a busy machine
changes far less than wall seconds; the most costly first, at the end of the run.

python -m pytest -q -p no:cacheprovider -p benchmarks.cpu_per_test [--cpu-top 25] FILES
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator

import pytest

ROWS = pytest.StashKey[list[tuple[float, float, str]]]()


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cpu-top", type=int, default=25, help="tests listed by CPU seconds")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[ROWS] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Setup, call and teardown together: a fixture's training counts for its first user."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    try:
        return (yield)
    finally:
        rows = item.config.stash[ROWS]
        rows.append((cpu_seconds() - cpu, time.perf_counter() - wall, item.nodeid))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    rows = sorted(config.stash[ROWS], reverse=True)
    tests = sum(cpu for cpu, _, _ in rows)
    terminalreporter.write_sep("=", "CPU seconds per test (wall beside it)")
    for cpu, wall, nodeid in rows[: config.getoption("--cpu-top")]:
        terminalreporter.write_line(f"{cpu:8.2f} {wall:8.2f}  {nodeid}")
    terminalreporter.write_line(
        f"tests {tests:.1f} s CPU; start-up and collection {cpu_seconds() - tests:.1f} s"
    )
