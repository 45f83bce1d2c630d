"""The commands the documentation shows are accepted as typed.

Every ``talkbench`` command in a fenced shell block of the README files and ``docs/`` (also behind
``scripts/benchmark`` and ``torchrun -m talkbench.cli``) is parsed by the real command line (options,
arguments) and, for ``run`` / ``train`` / ``eval``, its preset and ``key=value`` overrides are loaded
by the config loader, which validates every key and value. Shell variables set in the same block are
substituted. Usage lines with ``[optional | choices]`` are templates, not commands, and are skipped.
Running them needs the datasets and weights they name; the paper presets' end-to-end runs on tiny
layouts are ``bench/test_paper_presets.py``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from talkbench.cli import app
from talkbench.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "examples").glob("*/README.md")),
]
_FENCE = re.compile(r"^\s*```(?:bash|sh|shell|console)\s*\n(.*?)^\s*```", re.M | re.S)
_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")


def _substitute(word: str, env: dict[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` replaced by the block's own assignments (others left as typed)."""
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m[1] or m[2], m[0]), word)


def _commands(doc: Path) -> list[tuple[str, list[str]]]:
    """``(line, argv after 'talkbench')`` for every talkbench command in the doc's shell blocks."""
    out = []
    for block in _FENCE.findall(doc.read_text(encoding="utf-8")):
        env: dict[str, str] = {}
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.split(" # ")[0].strip()
            if not line or line.startswith("#"):
                continue
            words = shlex.split(line, comments=True)
            assign = _ASSIGN.match(line)
            if assign and len(words) == 1:
                env[assign.group(1)] = words[0].split("=", 1)[1]
                continue
            words = [_substitute(w, env) for w in words]
            while words and _ASSIGN.match(words[0]):  # VAR=value before the command
                words = words[1:]
            if not words:
                continue
            if words[0].endswith("scripts/benchmark"):
                argv = ["run", "--preset", "default", *words[1:]]
            elif words[0].endswith("talkbench"):
                argv = words[1:]
            elif "talkbench.cli" in words:
                argv = words[words.index("talkbench.cli") + 1 :]
            else:
                continue
            if any(w.startswith("[") and "|" in line for w in argv):
                continue  # a usage template
            out.append((line, argv))
    return out


CASES = [(doc, line, argv) for doc in DOCS for line, argv in _commands(doc)]


def test_the_docs_show_talkbench_commands() -> None:
    # the extraction itself: the docs that walk a user through the tool are covered
    shown = {doc.name if doc.parent.name != "gru-animator" else "gru-animator" for doc, _, _ in CASES}
    walkthroughs = {"reproducing.md", "adding-an-animator.md", "regression.md", "datasets.md", "gru-animator"}
    assert walkthroughs <= shown
    assert sum(argv[0] == "run" for _, _, argv in CASES) >= 8


def _parse(argv: list[str]):
    """Resolve the sub-command and parse its options as the command line does, without running it.

    Returns the leaf command's context; a refused option, argument or command name raises the command
    line's usage error.
    """
    cmd = typer.main.get_command(app)
    parent = cmd.make_context("talkbench", [], resilient_parsing=True)  # the group's own options: none used
    rest = [a for a in argv if a != "--debug"]
    while hasattr(cmd, "resolve_command"):  # a group: the next word names its sub-command
        name, cmd, rest = cmd.resolve_command(parent, rest)
        parent = cmd.make_context(name, [], parent=parent, resilient_parsing=True)
    return cmd.make_context(parent.info_name, rest, parent=parent.parent)  # the leaf, parsed strictly


@pytest.mark.parametrize(
    ("doc", "line", "argv"), CASES, ids=[f"{d.name}:{' '.join(a[:3])}" for d, _, a in CASES]
)
def test_a_documented_command_is_accepted(doc: Path, line: str, argv: list[str]) -> None:
    try:
        ctx = _parse(argv)
    except Exception as exc:  # the command line's usage errors (a vendored click's classes)
        message = exc.format_message() if hasattr(exc, "format_message") else repr(exc)
        pytest.fail(f"{doc.relative_to(ROOT)}: `{line}` is refused by the command line: {message}")
    if ctx.info_name in ("run", "train", "eval"):
        params = ctx.params
        load_config(params["preset"], params.get("overrides") or [])  # raises ConfigError naming the key
