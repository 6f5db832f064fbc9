"""Run the examples in docs/: every python block (in order, one namespace per page) and every
`synthworld` command in a bash block, in a temporary folder."""

import re
import shlex
from pathlib import Path

import pytest

from synthworld.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
PAGES = sorted(DOCS.rglob("*.md"))


def blocks(page: Path, lang: str) -> list[str]:
    return [code for kind, code in BLOCK.findall(page.read_text(encoding="utf-8")) if kind == lang]


def test_every_page_is_linked_from_the_index():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in PAGES:
        if page.name != "index.md":
            link = page.relative_to(DOCS).as_posix()
            assert f"({link})" in index, link


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "python")], ids=lambda p: p.stem)
def test_python_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks(page, "python"):
        exec(compile(code, str(page), "exec"), namespace)


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "bash")], ids=lambda p: p.stem)
def test_commands_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = [
        line.strip()
        for code in blocks(page, "bash")
        for line in code.splitlines()
        if line.strip().startswith("synthworld ")
    ]
    assert commands
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
