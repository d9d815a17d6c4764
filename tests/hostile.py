"""What the hostile-input corpus (tests/test_hostile_*.py) shares: the one assertion every
case makes (exit code 2, or the documented code; exactly one `error:` line naming the place; no
traceback). Its fixtures, a tiny ratings file and a model trained from it once per session,
are in conftest.py."""

from __future__ import annotations

from typer.testing import CliRunner

from embedrec.cli import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_refused(result, *expected: str, code: int = 2) -> str:
    """The command failed with `code`, printed no traceback and exactly one error line, which
    holds every `expected` text (the file, line, field, option or id it is about)."""
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    return errors[0]
