"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, as a person
uses a page: load it, read its visible text (``innerText``), click, take a screenshot.
A small client over ``websockets`` (in the dev dependencies); no browser download."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from websockets.sync.client import ClientConnection, connect

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page (a tab) attached."""

    def __init__(self, width: int = 390, height: int = 844) -> None:
        self.width = width
        self.height = height
        self._ids = itertools.count(1)
        self._profile = tempfile.mkdtemp(prefix="chromium-")
        self._process: subprocess.Popen[str] | None = None
        self._ws: ClientConnection | None = None
        self._session = ""

    def __enter__(self) -> Self:
        binary = executable()
        assert binary, "chromium is not installed (devstack/install-system-deps.sh)"
        args = [
            binary,
            "--headless=new",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses its sandbox as root
        self._process = subprocess.Popen(
            args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        url = self._devtools_url()
        # Chromium keeps logging to stderr: drained, or a full pipe would stall it.
        threading.Thread(target=self._drain, daemon=True).start()
        # No WebSocket-level keepalive (CDP needs none): its thread joining the reader
        # thread while close() joins it too can race in CPython 3.11's Thread.join.
        self._ws = connect(url, max_size=64 * 1024 * 1024, open_timeout=30, ping_interval=None)
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": True},
        )
        return self

    def _devtools_url(self) -> str:
        assert self._process is not None
        assert self._process.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                return found.group(1)
            if not line and self._process.poll() is not None:
                break
        raise RuntimeError("chromium did not start its DevTools server")

    def _drain(self) -> None:
        stream = self._process.stderr if self._process else None
        try:
            while stream is not None and stream.readline():
                pass
        except (ValueError, OSError):  # closed by __exit__
            pass

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        assert self._ws is not None
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv(timeout=60))
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self._call(method, params, self._session)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})[
            "result"
        ]
        return result.get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def open(self, url: str) -> None:
        """Navigates and waits until the document has loaded."""
        self.send("Page.navigate", {"url": url})
        self.wait_for(
            f"location.href.startsWith({json.dumps(url.split('?', maxsplit=1)[0])}) && "
            "document.readyState === 'complete'"
        )

    def text(self) -> str:
        """What a person reads on the page."""
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def location(self) -> str:
        return str(self.evaluate("location.href"))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(data))
        return path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            if self._process.stderr is not None:
                self._process.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)
