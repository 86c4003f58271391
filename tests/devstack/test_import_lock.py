"""The emulator's imports of functions and the OpenAPI document's build (the local stack's
warm-up thread) never run at once: both import function modules, whose routes' models
FastAPI builds inside warnings.catch_warnings(), which is not thread-safe. Run together,
one could restore the other's warning filters out of order, and under pytest's
filterwarnings = error the warm-up failed with pydantic's UnsupportedFieldAttributeWarning
(reliability/test_security.py, its first test)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from devstack import openapi
from devstack.functions import IMPORT_LOCK, FunctionHost, FunctionSpec


def _blocked_while_locked(work: Any) -> None:
    """`work` on a thread of its own waits while this thread holds the import lock, and
    finishes once it is released."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the test's thread
            errors.append(error)
        finally:
            done.set()

    with IMPORT_LOCK:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert not done.wait(0.5), "ran while another thread held the import lock"
    assert done.wait(120), "did not finish once the lock was released"
    thread.join()
    assert not errors, errors


def test_the_emulator_imports_a_function_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "import_lock_probe.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 204}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "import_lock_probe", raising=False)
    spec = FunctionSpec(
        name="probe",
        module="import_lock_probe",
        attribute="handler",
        method=None,
        path=None,
        timeout=6,
    )
    host = FunctionHost([spec], workers=1)
    try:
        started = time.monotonic()
        _blocked_while_locked(lambda: host.handler(spec))
        assert time.monotonic() - started >= 0.5
        assert host.handler(spec)({}, None) == {"statusCode": 204}
    finally:
        host.close()


def test_the_openapi_build_imports_under_the_lock() -> None:
    _blocked_while_locked(openapi.build_openapi.__wrapped__)
