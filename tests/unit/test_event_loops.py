"""The suite leaves no event loop unclosed. Mangum's constructor takes the importing thread's
loop and makes one when there is none, so a test module that imports a function module
whose `handler` is built at import (functions/portal/pdf.py, a function of its own) made a
loop during collection that nobody closed; the first test to set the thread's loop
(asyncio.run) dropped it, and the garbage collector reported it, with its self-pipe's
"unclosed socket", as an error of whichever test ran then. tests/conftest.py makes the main
thread's loop before collection (Mangum adopts it) and closes it when the session ends.

A pytest of its own, with tests/conftest.py as its plugin and every warning an error: a
module importing such a function, then a test that runs asyncio.run and collects garbage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMPORTS_A_HANDLER = """
from functions.portal import pdf


def test_the_function_is_there() -> None:
    assert callable(pdf.handler)
"""

LATER = """
import asyncio
import gc


def test_a_later_test_sets_and_unsets_the_loop() -> None:
    asyncio.run(asyncio.sleep(0))
    gc.collect()
"""


@pytest.mark.slow  # a pytest of its own, importing a function (a few seconds)
def test_a_handler_built_during_collection_leaves_no_loop_behind(tmp_path: Path) -> None:
    (tmp_path / "test_a_imports.py").write_text(IMPORTS_A_HANDLER)
    (tmp_path / "test_b_later.py").write_text(LATER)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            "-o",
            "filterwarnings=error",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
