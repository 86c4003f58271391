"""The GitHub Actions workflows: valid YAML, the gates docs/deploy.md describes, in order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as true.
    raw["on"] = raw.pop(True, raw.get("on"))
    return {str(key): value for key, value in raw.items()}


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_workflow_is_well_formed(path: Path) -> None:
    workflow = load(path.name)
    assert workflow["name"]
    assert workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}, "least privilege by default"
    for name, job in workflow["jobs"].items():
        assert "runs-on" in job or "uses" in job, name
        for step in job.get("steps", []):
            assert ("uses" in step) != ("run" in step), f"{name}: {step}"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]
            for script in re.findall(r"\b(deploy/[\w.-]+)", step.get("run", "")):
                assert (ROOT / script).is_file(), script


def test_ci_runs_lint_tests_audit_on_pull_requests_and_pushes() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    assert "push" in ci["on"]
    commands = [command for job in ci["jobs"].values() for command in runs(job)]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lint", "test"):
        assert f"make {target}" in commands
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE)
    audit = [c for c in commands if c.startswith("pip-audit")]
    assert audit
    assert "--requirement deploy/requirements.txt" in audit[0]
    assert "--strict" in audit[0]
    assert any("deploy/lock.py --check" in c for c in commands)


def test_deploy_waits_for_ci_on_main_then_staging_then_approved_production() -> None:
    deploy = load("deploy.yml")
    trigger = deploy["on"]["workflow_run"]
    assert trigger["workflows"] == [load("ci.yml")["name"]]
    assert trigger["branches"] == ["main"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    staging, production = deploy["jobs"]["staging"], deploy["jobs"]["production"]
    assert "success" in staging["if"]
    assert production["needs"] == "staging"
    assert staging["with"]["environment"] == "staging"
    assert production["with"]["environment"] == "production"  # its required reviewers
    assert production["with"]["stage"] == "prod"
    assert set(deploy["jobs"]) == {"staging", "production"}
    stages = yaml.safe_load((ROOT / "serverless.yml").read_text())["params"]
    assert {"staging", "prod"} <= set(stages)


def test_a_stage_deploys_migrations_then_functions_then_alarms_then_checks_health() -> None:
    stage = load("deploy-stage.yml")
    job = stage["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert stage["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/checkout@")
    commands = "\n".join(runs(job))
    order = [
        "supabase db push",
        "serverless deploy --stage",
        "serverless deploy --config serverless.monitoring.yml",
        "deploy/smoke.sh",
    ]
    positions = [commands.index(step) for step in order]
    assert positions == sorted(positions)
    # AWS credentials from GitHub's OIDC token, no long-lived keys
    assert not [s for s in job["steps"] if "aws-access-key-id" in (s.get("with") or {})]
    assert job["permissions"]["id-token"] == "write"


def test_reliability_suite_runs_nightly_and_on_demand() -> None:
    workflow = load("reliability.yml")
    assert "schedule" in workflow["on"]
    assert "workflow_dispatch" in workflow["on"]
    commands = [command for job in workflow["jobs"].values() for command in runs(job)]
    assert "make reliability" in commands
    assert re.search(r"^reliability:", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)


def test_the_suite_runs_nightly_with_the_clock_a_year_ahead() -> None:
    """make test-clock in the nightly workflow, after every install (which fetches over TLS,
    so with the real clock)."""
    workflow = load("reliability.yml")
    assert "schedule" in workflow["on"]
    jobs = [job for job in workflow["jobs"].values() if "make test-clock" in runs(job)]
    assert len(jobs) == 1
    commands = runs(jobs[0])
    assert commands[-1] == "make test-clock"
    assert any("make setup" in c for c in commands[:-1])
    assert re.search(r"^test-clock:", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
