"""Runs pgTAP files with psql, as pg_prove (and ``supabase test db``) would, and reads
their TAP output.

Each file is run on its own by ``psql -f`` with TAP-friendly output settings; a file
passes when psql exits 0, the plan was announced, as many tests ran as planned and none
failed (``not ok`` without a ``# TODO``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from devstack.postgres import ROOT

TESTS_DIR = ROOT / "supabase" / "tests"
SETUP_FILE = TESTS_DIR / "000-setup-tests-helpers.sql"

_PLAN = re.compile(r"^1\.\.(\d+)")
_RESULT = re.compile(r"^(not ok|ok) (\d+)(.*)$")


@dataclass
class TapResult:
    path: Path
    returncode: int
    output: str
    planned: int | None = None
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return self.passed + len(self.failures)

    @property
    def ok(self) -> bool:
        return (
            self.returncode == 0
            and self.planned is not None
            and self.planned == self.ran
            and not self.failures
        )

    def explain(self) -> str:
        if self.ok:
            return f"{self.path.name}: {self.passed}/{self.planned} ok"
        problems = []
        if self.returncode != 0:
            problems.append(f"psql exited {self.returncode}")
        if self.planned is None:
            problems.append("no plan")
        elif self.planned != self.ran:
            problems.append(f"planned {self.planned}, ran {self.ran}")
        problems += self.failures
        return f"{self.path.name}: " + "; ".join(problems) + "\n--- output ---\n" + self.output


def psql_binary() -> str:
    found = shutil.which("psql")
    if not found:
        raise RuntimeError("psql not found; install the Debian package postgresql-client-15")
    return found


def parse_tap(path: Path, returncode: int, output: str) -> TapResult:
    result = TapResult(path=path, returncode=returncode, output=output)
    lines = [line.strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if (plan := _PLAN.match(line)) and result.planned is None:
            result.planned = int(plan[1])
            continue
        match = _RESULT.match(line)
        if not match:
            continue
        status, _number, rest = match.groups()
        if status == "ok" or "# TODO" in rest:
            result.passed += 1
        else:
            # pgTAP prints the diagnostics of a failure on the following "#" lines.
            details = [rest.strip(" -")]
            for follow in lines[index + 1 :]:
                if not follow.startswith("#"):
                    break
                details.append(follow)
            result.failures.append("not ok: " + "\n".join(details))
    return result


def run_file(url: str, path: Path, timeout: float = 300) -> TapResult:
    proc = subprocess.run(
        [
            psql_binary(),
            url,
            "--no-psqlrc",
            "--quiet",
            "--tuples-only",
            "--no-align",
            "--set",
            "ON_ERROR_STOP=1",
            "--pset",
            "pager=off",
            "--file",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return parse_tap(path, proc.returncode, proc.stdout + proc.stderr)


def test_files() -> list[Path]:
    """Every pgTAP file but the set-up one, in the order pg_prove runs them."""
    return [path for path in sorted(TESTS_DIR.glob("*.sql")) if path != SETUP_FILE]
