"""Every code block of README.md and of the documentation pages (docs/, in the site's order)
runs as written, in order, in the shell the README's set-up line leaves (its `export`s
applied, its `embedrec` command run first), from a folder laid out like the repository's root
with `../shared` beside it; and what the README claims (numbers, model names, options) is what
embedrec does.

Python blocks run as scripts. In a bash block, a plain `embedrec` line runs through the CLI in
this process (the same arguments, parser and code; a process start per line would cost
torch's import each time); `export` sets the variable for the lines after it; a line ending in
`&` starts in the background (the service) and `kill %N` stops the Nth of its page, as in a
fresh shell per page; any other line runs in bash. Blocks in any other language (`console`,
`text`) are shown, not run. One setup serves every page: a page may use `models/ml-100k`, and
names the other files it writes so that no other page writes them."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
import typer
from benchmarks import docs_at_scale
from typer.testing import CliRunner

import embedrec
from embedrec.cli import app
from embedrec.models.module import ModuleKind
from embedrec.models.registry import build, resolve
from tests.conftest import ML100K, NO_ML100K

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# a block at full scale (25M ratings: a minute of CPU) runs as written in
# benchmarks/docs_at_scale.py, which checks its figures; here it runs with the option the
# marker names, e.g. `<!-- at full scale: ... the tests run it with --preset ml-1m -->`
AT_FULL_SCALE = re.compile(r"<!-- at full scale[^\n]*? with (--[\w-]+) (\S+) -->\n$")
MARKER = re.compile(r"^<!-- at full scale", re.MULTILINE)  # a marker, not a mention of one


def doc_pages() -> list[Path]:
    """The documentation pages in the site's order (the `nav` of mkdocs.yml)."""
    nav = re.findall(r"^\s+- [^:\n]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    return [ROOT / "docs" / name for name in nav]


DOCUMENTS = [README, *doc_pages()]


def name(document: Path) -> str:
    return str(document.relative_to(ROOT))


def code_blocks(document: Path) -> list[tuple[str, str]]:
    return blocks_of(document.read_text(), name(document))


def blocks_of(text: str, page: str) -> list[tuple[str, str]]:
    """(language, code) of each block; a bash block marked at full scale with the marker's
    option value in place of the one the page gives. A marker read nowhere (not directly
    above a bash block, or without `with --OPTION VALUE`) is an error: unread, its block would
    run at full scale in the suite, unseen."""
    blocks, marked = [], 0
    for m in BLOCK.finditer(text):
        code = m.group(2)
        scaled = AT_FULL_SCALE.search(text, 0, m.start())
        if scaled and scaled.end() == m.start() and m.group(1) == "bash":
            option, value = scaled.groups()
            # the value alone: a quote, `;` or `\` right after it stays
            code, changed = re.subn(rf"(?<!\S){option} [^\s'\";&|\\]+", f"{option} {value}", code)
            assert changed, f"{page}: the marked block has no {option}"
            marked += 1
        blocks.append((m.group(1), code))
    assert marked == len(MARKER.findall(text)), (
        f"{page}: a `<!-- at full scale ...` marker the tests cannot read: it goes on the line "
        "right above a bash block and ends `with --OPTION VALUE -->`"
    )
    return blocks


def shell_lines(code: str) -> list[str]:
    """Commands of a bash block: continuation lines joined."""
    return [line.strip() for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def setup_parts() -> tuple[dict[str, str], list[str]]:
    """The set-up line's exported variables and its `embedrec` commands (installing is CI's
    job, done before the tests run)."""
    setup_line = code_blocks(README)[0][1].splitlines()[0]
    parts = [part.strip() for part in setup_line.split("&&")]
    exports = dict(
        p.removeprefix("export ").split("=", 1) for p in parts if p.startswith("export ")
    )
    return exports, [p for p in parts if p.startswith("embedrec ")]


# (document, index of the block in it); the README's first block is the set-up, run first
BLOCKS = [
    (document, index)
    for document in DOCUMENTS
    for index in range(len(code_blocks(document)))
    if (document, index) != (README, 0)
]


def stop(process: subprocess.Popen, how: signal.Signals) -> None:
    """Stop a background line and everything it started (its own process group), and wait
    until the whole group is gone, so that the port it held is free for the next page."""
    try:
        os.killpg(process.pid, how)
    except ProcessLookupError:
        pass  # it and its group have ended
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


class Shell:
    """A user's shell after the set-up line, in a repository-shaped folder: runs a page's
    blocks in order, each once, and keeps what each printed."""

    def __init__(self, top: Path, root: Path):
        self.top, self.root = top, root
        self.path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        self.jobs: dict[str, list[subprocess.Popen]] = {}
        self.done: dict[tuple[Path, int], tuple[int, str]] = {}
        self.saved: dict[str, str | None] = {}
        self.setup_output = ""

    def block(self, document: Path, index: int) -> tuple[int, str]:
        """(exit status, output) of this block, its page's earlier blocks run first."""
        blocks = code_blocks(document)
        for i in range(1 if document == README else 0, index + 1):
            if (document, i) not in self.done:
                language, code = blocks[i]
                label = f"{document.stem}-block{i + 1}"
                self.done[(document, i)] = self.run(language, code, label, name(document))
        return self.done[(document, index)]

    def run(self, language: str, code: str, label: str, page: str) -> tuple[int, str]:
        if language == "python":
            script = self.top / f"{label}.py"
            script.write_text(code)
            done = subprocess.run(
                [sys.executable, str(script)], cwd=self.root, capture_output=True, text=True
            )
            return done.returncode, done.stdout + done.stderr
        outputs = []
        for line in shell_lines(code):
            status, output = self.line(line, self.jobs.setdefault(page, []))
            outputs.append(output)
            if status != 0:
                return status, f"{line}\n{output}"
        return 0, "\n".join(outputs)

    def line(self, line: str, background: list[subprocess.Popen]) -> tuple[int, str]:
        shell_env = {**os.environ, "PATH": self.path}
        if line.startswith("export ") and "&&" not in line:
            for assignment in shlex.split(line, comments=True)[1:]:
                key, _, value = assignment.partition("=")
                self.saved.setdefault(key, os.environ.get(key))
                os.environ[key] = value
            return 0, ""
        code = line.split(" #")[0].rstrip()  # a comment starts at " #", as bash reads it
        if code.endswith("&") and not code.endswith("&&"):
            background.append(
                subprocess.Popen(
                    ["bash", "-c", code[:-1]], cwd=self.root, env=shell_env, start_new_session=True
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
                cwd=self.root,
                env=shell_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            return 124, f"timed out: {line}"
        return done.returncode, done.stdout + done.stderr

    def close(self) -> None:
        for background in self.jobs.values():
            for process in background:
                stop(process, signal.SIGKILL)
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def shell(tmp_path_factory) -> Iterator[Shell]:
    """The shell every page's blocks run in, after the README's set-up line."""
    if not (ML100K / "u.data").is_file():
        pytest.skip(NO_ML100K)
    top = tmp_path_factory.mktemp("readme")
    (top / "shared").symlink_to(ML100K.parents[2], target_is_directory=True)
    root = top / "repo"
    root.mkdir()
    exports, commands = setup_parts()
    before = Path.cwd()
    runner = Shell(top, root)
    for key, value in exports.items():
        runner.saved.setdefault(key, os.environ.get(key))
        os.environ[key] = value.replace("$PWD", str(root))
    os.chdir(root)
    try:
        status, output = runner.run("bash", "\n".join(commands), "setup", "setup")
        assert status == 0, output[-3000:]
        assert (root / "models" / "ml-100k" / "config.json").is_file()
        runner.setup_output = output
        yield runner
    finally:
        runner.close()
        os.chdir(before)


@pytest.mark.slow
@pytest.mark.parametrize(
    "document, index",
    BLOCKS,
    ids=[f"{name(d)}-block{i + 1}-{code_blocks(d)[i][0]}" for d, i in BLOCKS],
)
def test_block_runs_as_written(shell, document, index):
    status, output = shell.block(document, index)
    assert status == 0, output[-3000:]
    assert "Traceback" not in output


def readme_claim(pattern: str) -> re.Match:
    found = re.search(pattern, " ".join(README.read_text().split()))
    assert found, f"the README no longer says {pattern!r}: update this test with it"
    return found


@pytest.mark.slow
def test_readme_says_what_the_set_up_line_trains(shell):
    """The kinds and the figure the README quotes for the default on MovieLens 100k are those
    the set-up line prints."""
    said = readme_claim(r"it keeps `(\S+)` \([^)]*\) with an `(\S+)` ranker, valid RMSE (\d\.\d+)")
    printed = re.search(
        r"saved (\S+)\+(\S+) model to \S+ \([^)]*\), valid RMSE (\d\.\d+)", shell.setup_output
    )
    assert printed, shell.setup_output[-2000:]
    assert printed.group(1, 2) == said.group(1, 2)
    assert float(printed.group(3)) == pytest.approx(float(said.group(3)), abs=0.005)
    carved = readme_claim(r"it carves (\d+)% of the training ratings out").group(1)
    assert f"carved out for validation ({carved}%," in " ".join(shell.setup_output.split())


@pytest.mark.slow
def test_readme_scores_and_ratings_are_what_it_says(shell):
    """A default model's list: `rating` is in stars, `score` (the blend) is not a rating."""
    readme_claim(r"`rating` is the predicted rating, in stars; `score` is what the list is sorted")
    rec = embedrec.load("models/ml-100k")
    top = rec.recommend(196, n=20)
    assert list(top.columns) == ["item", "title", "score", "rating"]
    low, high = rec.rating_scale
    assert top["rating"].between(low, high).all()
    assert top["score"].is_monotonic_decreasing
    assert not top["score"].equals(top["rating"])


@pytest.mark.slow
def test_readme_chapter_loss_is_what_the_tour_prints(shell):
    """The chapter's valid loss the Python tour quotes is the one it prints."""
    said = float(readme_claim(r'valid loss \("loss"\) about (\d\.\d+)').group(1))
    status, output = shell.block(README, 2)
    assert status == 0, output[-3000:]
    printed = re.search(r"'loss': (\d\.\d+)", output)
    assert printed, output[-2000:]
    assert float(printed.group(1)) == pytest.approx(said, abs=0.02)


def test_the_model_names_listed_are_model_names():
    """README and the models page list `embedrec.model_names()` as it answers."""
    for document in (README, ROOT / "docs" / "models.md"):
        text = " ".join(document.read_text().split())
        listed = re.search(r"`embedrec\.model_names\(\)`[^:]*: ((?:`[\w-]+`,? ?)+)", text)
        assert listed, f"{name(document)} no longer lists embedrec.model_names()"
        assert re.findall(r"`([\w-]+)`", listed.group(1)) == embedrec.model_names()


def embedrec_options() -> set[str]:
    """Every option any `embedrec` command or sub-command takes."""
    found = {"--help"}  # click adds it to every command

    def walk(command: click.Command) -> None:
        for parameter in command.params:
            found.update(parameter.opts, parameter.secondary_opts)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return found


# options the pages give to other programs (torchrun, ruff, mkdocs, pytest)
OTHERS = {"--standalone", "--nproc-per-node", "--nnodes", "--rdzv-backend", "--rdzv-id"}
OTHERS |= {"--rdzv-endpoint", "--check", "--strict", "--dist"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=name)
def test_every_option_named_exists(document):
    """An option the README or a page names, in a command or in prose, is one embedrec takes."""
    text = re.sub(r"curl [^\n]*(\\\n[^\n]*)*", "", document.read_text())  # curl's own options
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - OTHERS
    assert named or document != README, "the README names no option: is this test reading it?"
    assert sorted(named - embedrec_options()) == []


def test_the_chapter_table_holds():
    """What the README's chapter -> embedrec table says of `dot`, `dot-bias`, `Embedding` and
    `create_params`, on a small 1-5 star table."""
    readme_claim(r"`model=\"dot\"` \| `y_range=None` by default")
    readme_claim(r"`y_range=\"auto\"` is \(0, 1\.1 x the top rating\): \(0, 5\.5\)")
    readme_claim(r"`Embedding\(n, k\)` \(truncated normal\), `create_params\(size\)` \(normal\)")
    readme_claim(r"\(normal\), both std 0\.01 \| `embedrec\.Embedding\(n, k\)`")
    users, items = np.meshgrid(np.arange(30), np.arange(20))
    stars = 1.0 + (users + items).ravel() % 5
    ratings = embedrec.ratings_from_frame(
        pd.DataFrame({"user": users.ravel(), "item": items.ravel(), "rating": stars})
    )
    networks = {
        kind: build(resolve(embedrec.TrainConfig(model=kind)), ratings).network
        for kind in ("dot", "dot-bias")
    }
    assert networks["dot"].y_range is None
    assert networks["dot-bias"].y_range == (0.0, 5.5)
    table = embedrec.Embedding(2000, 50).weight.detach()
    assert 0.0085 < table.std().item() < 0.0092  # N(0, 0.01) cut at 2 sd has sd 0.0088
    assert table.abs().max().item() <= 0.02
    assert embedrec.create_params([2000, 50]).detach().std().item() == pytest.approx(0.01, rel=0.1)
    readme_claim(r"unset, `wd` is fastai's 0\.01 for your module \(and `bs=64`\)")
    assert ModuleKind.defaults["wd"] == 0.01 and ModuleKind.defaults["bs"] == 64


@pytest.mark.slow
def test_models_page_says_how_wide_the_stored_bmf_is(shell):
    """The models page explains the rank in the notes against the width `config.json` holds,
    with the set-up line's model as its example."""
    page = " ".join((ROOT / "docs" / "models.md").read_text().split())
    said = re.search(r"\((\d+) for rank (\d+) on MovieLens 100k\)", page)
    assert said, "docs/models.md no longer gives the width of the set-up line's bmf"
    config = json.loads(Path("models/ml-100k/config.json").read_text())
    assert config["model"] == "bmf"
    assert config["model_config"]["n_factors"] == int(said.group(1))
    assert config["train_config"]["n_factors"] == int(said.group(2))
    assert f"bmf rank {said.group(2)}," in " ".join(shell.setup_output.split())
    exported = embedrec.factor_frame(embedrec.load("models/ml-100k"))  # what `export` writes
    assert exported.filter(regex=r"^f\d+$").shape[1] == int(said.group(1))


def test_the_readme_is_short():
    """A newcomer's page: set-up, tours, own data, own hold-out, serving, the chapter's table;
    internals live in docs/."""
    assert len(README.read_text().splitlines()) <= 200


FULL_SCALE = "<!-- at full scale: the tests run it with --preset ml-1m -->\n"
SYNTH = "```bash\nembedrec synth --preset ml-25m; ls  # ~20 s\n```\n"


def test_a_full_scale_marker_is_read_right_above_a_bash_block_or_refused():
    """The marked block runs with the marker's value (what follows the value stays), the next
    block as written; a marker the tests cannot read is refused, not passed over (its block
    would run at 25M ratings in the suite)."""
    assert blocks_of(FULL_SCALE + SYNTH + "\n" + SYNTH, "page") == [
        ("bash", "embedrec synth --preset ml-1m; ls  # ~20 s\n"),
        ("bash", "embedrec synth --preset ml-25m; ls  # ~20 s\n"),
    ]
    python = "```python\nprint('--preset ml-25m')\n```\n"
    for unread in (
        FULL_SCALE + "\n" + SYNTH,  # a blank line between
        FULL_SCALE.replace(" with --preset ml-1m", "") + SYNTH,  # no value for the tests
        FULL_SCALE.replace("-->", "--> ") + SYNTH,  # a blank after it
        FULL_SCALE + python,  # the benchmark runs bash blocks only
        FULL_SCALE + FULL_SCALE + SYNTH,  # two: which one holds?
    ):
        with pytest.raises(AssertionError, match="marker the tests cannot read"):
            blocks_of(unread, "page")


def test_the_benchmark_runs_the_marked_blocks_lines_as_bash_reads_them():
    """benchmarks/docs_at_scale.py finds the blocks the tests run smaller, and splits each
    line where bash starts its comment: a quoted `#` is the command's."""
    pages = docs_at_scale.documents()
    assert sorted(pages) == sorted(DOCUMENTS)
    markers = sum(len(MARKER.findall(page.read_text())) for page in pages)
    assert (
        markers
        and len([m for p in pages for m in docs_at_scale.MARKED.finditer(p.read_text())]) == markers
    )
    said = docs_at_scale.split_comment("embedrec synth --out 'a #1.parquet'  # ~20 s (#26)")
    assert said == ("embedrec synth --out 'a #1.parquet' ", "~20 s (#26)")
    lines = docs_at_scale.marked_lines()
    assert any("valid RMSE" in comment for _, _, comment in lines)
    assert all("#" not in command for _, command, _ in lines)


def test_the_test_suite_times_are_the_measured_ones():
    """The minutes the README gives for `pytest` are figures BENCHMARKS.md measured ("The test
    suite"): the idle one its latest idle run, the busy one its latest run beside two spin
    loops (`benchmarks/suite_under_load.py --spinners 2`)."""
    section = (ROOT / "BENCHMARKS.md").read_text().split("## The test suite")[1].split("\n## ")[0]
    section = " ".join(section.split())
    idle = re.findall(r"otherwise idle: [^.]*? in ([\d,]+) s of pytest", section)
    busy = re.findall(r"--spinners 2`[^.]*?: [^.]*?pytest's wall ([\d,]+) s", section)
    said = readme_claim(r"about (\d+) minutes on an idle 2-core machine, (\d+) minutes beside")
    assert idle and int(said.group(1)) == round(int(idle[-1].replace(",", "")) / 60)
    assert busy and int(said.group(2)) == round(int(busy[-1].replace(",", "")) / 60)
