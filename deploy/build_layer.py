"""Build a Lambda layer's zip from a pinned, hashed requirements file (deploy/python-layers.js).

    python deploy/build_layer.py deploy/requirements-einvoice.txt .serverless/einvoice.zip \
        -- <pip's target options: serverless.yml's custom.pythonRequirements.pipCmdExtraArgs>

pip installs the wheels for the target (arm64, CPython 3.11, glibc 2.26: the options say it)
with `--require-hashes --no-deps` into `python/`, where Lambda puts a layer's packages on the
path. Left out: bytecode and `__pycache__` (what serverless-python-requirements' slim does
for the base layer), the sources and headers of compiled extensions, which only a build
against them reads (Saxon's generated saxonc.cpp is 4.2 MB; lxml's .h, .pxd, .pxi, .pyx),
and pip's console scripts in `bin/` (their first line names the build's Python). The
`*.dist-info` stay (importlib.metadata and pip-audit read them). The zip is reproducible
(sorted entries, a fixed date) and cached under the user's cache directory by the hash of
the requirements and the options, so an unchanged layer is not installed again. Standard
library only: CI runs it with the runner's `python` (PYTHON_BIN), not the virtualenv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
VERSION = "2"  # of this build: a change of how the zip is made invalidates the cache
LEFT_OUT_SUFFIXES = {".pyc", ".pyo", ".c", ".cpp", ".h", ".pxd", ".pxi", ".pyx"}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "invoiceflow-layers"


def install(requirements: Path, pip_args: list[str], target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--require-hashes", "--target", str(target), "-r", str(requirements),
         *pip_args],
        check=True,
    )  # fmt: skip


def slim(tree: Path) -> None:
    for directory in [*sorted(tree.rglob("__pycache__"), reverse=True), tree / "bin"]:
        if directory.is_dir():
            shutil.rmtree(directory)
    for path in [p for p in tree.rglob("*") if p.is_file() and p.suffix in LEFT_OUT_SUFFIXES]:
        path.unlink()


def write_zip(tree: Path, out: Path) -> None:
    """Every file under ``tree`` as ``python/<path>``, sorted, dated 1980, modes kept."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo("python/" + path.relative_to(tree).as_posix(), FIXED_DATE)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def build(requirements: Path, out: Path, pip_args: list[str]) -> Path:
    key = hashlib.sha256(
        "\0".join([VERSION, requirements.read_text(), *pip_args]).encode()
    ).hexdigest()
    cached = cache_dir() / f"{requirements.stem}-{key[:16]}.zip"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "python"
            install(requirements, pip_args, tree)
            slim(tree)
            partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
            write_zip(tree, partial)
            os.replace(partial, cached)  # whole or not at all, for a concurrent build
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, out)
    return out


def main(argv: list[str]) -> int:
    if "--" in argv:
        split = argv.index("--")
        positional, pip_args = argv[:split], argv[split + 1 :]
    else:
        positional, pip_args = argv, []
    if len(positional) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build(Path(positional[0]), Path(positional[1]), pip_args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
