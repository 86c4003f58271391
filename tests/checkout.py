"""A fresh clone of this repository, for tests that run the README's commands as a new user
would: ``make package`` (tests/deploy) and ``make dev`` under a private home
(tests/devstack).

The clone is ``git clone`` of this checkout's HEAD, then the working tree's own changes laid
over it (uncommitted edits to tracked files, deletions, untracked files that are not
ignored), so that it holds exactly what the rest of the session tests. Nothing ignored comes
along: no ``.venv``, ``node_modules``, ``.serverless`` or ``.devstack``.

:func:`share_installs` lets the clone use this checkout's virtualenv and Node packages
(symlinks) without ever running an install through them: the Makefile's install steps
(``pip install -e .``, ``npm ci``) would rewrite this checkout's environment from the clone
(``npm ci`` empties the linked ``node_modules``; ``pip install -e`` points the editable
install at the clone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, check=True
    ).stdout.decode()
    return [name for name in out.split("\0") if name]


def clean_clone(dest: Path) -> Path:
    """``dest``: a clone of this repository as its working tree is now (see above)."""
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)],
        check=True,
        capture_output=True,
    )
    changed = _git("diff", "--name-only", "-z", "HEAD")
    untracked = _git("ls-files", "-z", "--others", "--exclude-standard")
    for name in [*changed, *untracked]:
        source, target = ROOT / name, dest / name
        if source.is_symlink() or source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        elif not source.exists():
            target.unlink(missing_ok=True)
    return dest


def make_stamps() -> list[str]:
    """The Makefile's install stamps (``$(STAMP)``, ``$(NODE_STAMP)``) for this checkout."""

    def cksum(name: str) -> str:
        out = subprocess.run(
            ["cksum", name], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        return out.split()[0]

    return [
        f".venv/.installed-{cksum('pyproject.toml')}",
        f"node_modules/.installed-{cksum('package-lock.json')}",
    ]


def share_installs(clone: Path) -> None:
    """Give ``clone`` this checkout's ``.venv`` and ``node_modules``, installed and current.

    Brings them up to date here first (the Makefile's own stamp targets, run in this
    checkout), links them into the clone, and gives the clone's ``pyproject.toml``,
    ``package.json`` and ``package-lock.json`` (the same content) this checkout's times, so
    that ``make`` in the clone finds its stamps current. Raises if it would not.
    """
    stamps = make_stamps()
    subprocess.run(
        ["make", "--no-print-directory", *stamps],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    for name in (".venv", "node_modules"):
        (clone / name).symlink_to(ROOT / name, target_is_directory=True)
    for name in ("pyproject.toml", "package.json", "package-lock.json"):
        times = (ROOT / name).stat()
        os.utime(clone / name, ns=(times.st_atime_ns, times.st_mtime_ns))
    question = subprocess.run(
        ["make", "--question", *stamps], cwd=clone, capture_output=True, check=False
    )
    if question.returncode != 0:
        raise RuntimeError(
            f"make in {clone} would reinstall {stamps} through the links into {ROOT}"
        )
