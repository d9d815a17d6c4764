"""Every code block of README.md runs as written, in order, in the shell the set-up line leaves
(its `export`s applied, its `embedrec` command run first), from a folder laid out like the
repository's root with `../shared` beside it. Python blocks run as scripts. In a bash block,
a plain `embedrec` line runs through the CLI in this process (the same arguments, parser and
code; a process start per line would cost torch's import each time); `export` sets the
variable for the lines after it; a line ending in `&` starts in the background (the service)
and `kill %N` stops the Nth; any other line runs in bash. Blocks without a language (the
layout diagram) are text."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedrec.cli import app
from tests.conftest import ML100K, NO_ML100K

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def code_blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(README.read_text())]


def shell_lines(code: str) -> list[str]:
    """Commands of a bash block: continuation lines joined."""
    return [line.strip() for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def setup_parts() -> tuple[dict[str, str], list[str]]:
    """The set-up line's exported variables and its `embedrec` commands (installing is CI's
    job, done before the tests run)."""
    setup_line = code_blocks()[0][1].splitlines()[0]
    parts = [part.strip() for part in setup_line.split("&&")]
    exports = dict(
        p.removeprefix("export ").split("=", 1) for p in parts if p.startswith("export ")
    )
    return exports, [p for p in parts if p.startswith("embedrec ")]


BLOCKS = code_blocks()[1:]


def stop(process: subprocess.Popen, how: signal.Signals) -> None:
    """Stop a background line and everything it started (its own process group)."""
    try:
        os.killpg(process.pid, how)
    except ProcessLookupError:
        pass  # it and its group have ended
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """Runs a block in a repository-shaped folder, as a user's shell after the set-up line."""
    if not (ML100K / "u.data").is_file():
        pytest.skip(NO_ML100K)
    top = tmp_path_factory.mktemp("readme")
    (top / "shared").symlink_to(ML100K.parents[2], target_is_directory=True)
    root = top / "repo"
    root.mkdir()
    exports, commands = setup_parts()
    env = {key: value.replace("$PWD", str(root)) for key, value in exports.items()}
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    saved = {key: os.environ.get(key) for key in env}
    before = Path.cwd()

    background: list[subprocess.Popen] = []

    def run_line(line: str) -> tuple[int, str]:
        shell_env = {**os.environ, "PATH": path}
        if line.startswith("export ") and "&&" not in line:
            for assignment in shlex.split(line, comments=True)[1:]:
                key, _, value = assignment.partition("=")
                os.environ[key] = value
                saved.setdefault(key, None)
            return 0, ""
        code = line.split(" #")[0].rstrip()  # a comment starts at " #", as bash reads it
        if code.endswith("&") and not code.endswith("&&"):
            command = code[:-1]
            background.append(
                subprocess.Popen(
                    ["bash", "-c", command], cwd=root, env=shell_env, start_new_session=True
                )
            )
            return 0, ""
        job = re.fullmatch(r"kill %(\d+)(\s+#.*)?", line)
        if job:
            process = background[int(job.group(1)) - 1]
            if process.poll() is not None:  # it died early: whatever answered was not it
                return 1, f"the background command had already exited ({process.returncode})"
            stop(process, signal.SIGTERM)
            return 0, ""
        plain = not set("$|><;&") & set(code)
        if line.startswith("embedrec ") and plain:
            result = CliRunner().invoke(app, shlex.split(line, comments=True)[1:])
            crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
            return (1 if crashed else result.exit_code), result.output
        try:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", line],
                cwd=root,
                env=shell_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            return 124, f"timed out: {line}"
        return done.returncode, done.stdout + done.stderr

    def run(language: str, code: str, name: str) -> tuple[int, str]:
        if language == "python":
            script = top / f"{name}.py"
            script.write_text(code)
            done = subprocess.run(
                [sys.executable, str(script)], cwd=root, capture_output=True, text=True
            )
            return done.returncode, done.stdout + done.stderr
        for line in shell_lines(code):
            code_, output = run_line(line)
            if code_ != 0:
                return code_, f"{line}\n{output}"
        return 0, ""

    os.environ.update(env)
    os.chdir(root)
    try:
        status, output = run("bash", "\n".join(commands), "setup")
        assert status == 0, output[-3000:]
        assert (root / "models" / "ml-100k" / "config.json").is_file()
        yield run
    finally:
        for process in background:
            stop(process, signal.SIGKILL)
        os.chdir(before)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.slow
@pytest.mark.parametrize(
    "index", range(len(BLOCKS)), ids=[f"block{i + 1}-{lang}" for i, (lang, _) in enumerate(BLOCKS)]
)
def test_readme_block_runs_as_written(shell, index):
    language, code = BLOCKS[index]
    status, output = shell(language, code, f"block{index + 1}")
    assert status == 0, output[-3000:]
    assert "Traceback" not in output
