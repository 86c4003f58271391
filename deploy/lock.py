"""Write the Lambda layers' requirements, pinned and hashed: deploy/requirements.txt (the base
layer, every function) and deploy/requirements-einvoice.txt (the e-invoice layer, only the
functions whose imports reach it: tests/deploy/test_layers.py).

The closure of pyproject.toml's runtime dependencies at the versions installed in the
development virtualenv (what the tests ran against), minus what the Lambda runtime
provides (boto3 and its own dependencies), for the deployment target: CPython 3.11 on
arm64 Amazon Linux 2 (glibc 2.26, so manylinux wheels up to manylinux_2_26). Where a
package's development version has no wheel for that target, OVERRIDES names the newest
version that has one. Each pin carries the sha256 of the wheel pip picks for the target,
so `pip install --require-hashes` (the layer build) refuses anything else.

The e-invoice layer holds EINVOICE_ROOTS and what only they pull in (Saxon's native
libraries alone are 94 MB); a package the base layer's own roots also need (python-stdnum,
requests) stays in the base layer, so no package is in both.

    .venv/bin/python deploy/lock.py            # rewrite both files
    .venv/bin/python deploy/lock.py --check    # exit 1 if either is out of date
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "deploy" / "requirements.txt"
EINVOICE_LOCK = ROOT / "deploy" / "requirements-einvoice.txt"

# The runtime dependencies only the e-invoice code imports (shared/einvoice, and the mail
# worker's PDF reading with pypdf): the second layer's roots.
EINVOICE_ROOTS = {"saxonche", "factur-x", "lxml", "pypdf"}

# The target, as pip's --platform/--python-version/--implementation/--abi options. pip
# does not widen an explicit manylinux_2_26 to the older tags, so every glibc level the
# Amazon Linux 2 based python3.11 runtime accepts is named.
PYTHON_VERSION = "3.11"
PLATFORMS = [
    f"{tag}_aarch64"
    for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_24", "manylinux_2_26")
]
PIP_TARGET_ARGS = [
    "--only-binary=:all:",
    "--implementation", "cp",
    "--python-version", PYTHON_VERSION,
    *[arg for platform in PLATFORMS for arg in ("--platform", platform)],
]  # fmt: skip

# In the Lambda runtime already (/var/runtime): not shipped, not pinned here.
RUNTIME_PROVIDED = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
}

# Development version -> the version shipped, when the former has no wheel for the target.
OVERRIDES = {
    # Pillow 12.3 and later ship aarch64 wheels for glibc 2.28 only (manylinux_2_28).
    "pillow": "12.2.0",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: str = "all") -> dict[str, str]:
    """Every distribution the runtime dependencies pull in, with its installed version:
    of all of them, of the base layer's roots (all but EINVOICE_ROOTS) or of EINVOICE_ROOTS."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, tuple[str, frozenset[str]]] = {}
    # Markers are evaluated when a requirement is queued (with its parent's extras).
    todo = [Requirement(spec) for spec in project["dependencies"]]
    if roots != "all":
        todo = [r for r in todo if (canonical(r.name) in EINVOICE_ROOTS) == (roots == "einvoice")]
    todo = [req for req in todo if not req.marker or req.marker.evaluate({"extra": ""})]
    while todo:
        req = todo.pop()
        name = canonical(req.name)
        extras = frozenset(req.extras)
        if name in found and extras <= found[name][1]:
            continue
        dist = metadata.distribution(req.name)
        extras |= found.get(name, ("", frozenset()))[1]
        found[name] = (dist.version, extras)
        for spec in dist.requires or []:
            sub = Requirement(spec)
            if sub.marker and not any(sub.marker.evaluate({"extra": e}) for e in extras | {""}):
                continue
            todo.append(sub)
    return {name: version for name, (version, _) in sorted(found.items())}


def layers() -> dict[str, dict[str, str]]:
    """Each layer's pins: the base layer's closure, and the e-invoice roots' closure
    without what the base layer already ships."""
    base = {n: v for n, v in closure("base").items() if n not in RUNTIME_PROVIDED}
    einvoice = {
        n: v for n, v in closure("einvoice").items() if n not in RUNTIME_PROVIDED and n not in base
    }
    return {
        "base": {n: OVERRIDES.get(n, v) for n, v in base.items()},
        "einvoice": {n: OVERRIDES.get(n, v) for n, v in einvoice.items()},
    }


HEADERS = {
    "base": (
        "# The base Lambda layer's Python packages (every function; CPython 3.11, arm64,\n"
        "# glibc 2.26), pinned and hashed. Generated by deploy/lock.py from pyproject.toml and\n"
        "# the dev virtualenv; do not edit by hand."
    ),
    "einvoice": (
        "# The e-invoice Lambda layer's Python packages (only the functions whose imports reach\n"
        "# saxonche, factur-x, lxml or pypdf; CPython 3.11, arm64, glibc 2.26), pinned and\n"
        "# hashed; none is in the base layer (deploy/requirements.txt). Generated by\n"
        "# deploy/lock.py from pyproject.toml and the dev virtualenv; do not edit by hand."
    ),
}


def render(layer: str = "base") -> str:
    pins = layers()[layer]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *PIP_TARGET_ARGS,
             "--dest", tmp, *[f"{n}=={v}" for n, v in pins.items()]],
            check=True, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wheels = {canonical(p.name.split("-")[0]): p for p in Path(tmp).glob("*.whl")}
        lines = [
            HEADERS[layer],
            "# Provided by the Lambda runtime, not shipped: "
            + ", ".join(sorted(RUNTIME_PROVIDED))
            + ".",
        ]
        for name, version in pins.items():
            digest = hashlib.sha256(wheels[name].read_bytes()).hexdigest()
            lines.append(f"{name}=={version} --hash=sha256:{digest}")
    return "\n".join(lines) + "\n"


def main() -> int:
    stale = 0
    for layer, path in (("base", LOCK), ("einvoice", EINVOICE_LOCK)):
        text = render(layer)
        if "--check" not in sys.argv:
            path.write_text(text)
        elif not path.is_file() or path.read_text() != text:
            print(f"deploy/{path.name} is out of date: run .venv/bin/python deploy/lock.py")
            stale = 1
    return stale


if __name__ == "__main__":
    raise SystemExit(main())
