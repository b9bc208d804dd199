"""Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4): no port,
no timing guess. A test awaits a page's promise (`Runtime.evaluate`, `awaitPromise`)
instead of dumping the DOM after a virtual-time budget, which cannot tell whether the
page's asynchronous work (WebAssembly compilation) is done."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class CdpError(Exception):
    """An error answer of the protocol, or an exception thrown in the page."""


class Browser:
    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def wait_for_event(self, method: str, session: str) -> dict[str, Any]:
        """The first event `method` of `session` since the last wait for it."""
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == session:
                    del self._events[: i + 1]
                    return event
            self._events.append(self._read_message())

    def close(self) -> None:
        self._out.close()
        self._in.close()

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = self._in.read(1 << 16)
            if not chunk:
                raise CdpError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events meanwhile are kept)."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            command["sessionId"] = session
        self._out.write(json.dumps(command).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") != self._next_id:
                if "method" in message:
                    self._events.append(message)
                continue
            if "error" in message:
                raise CdpError(f"{method}: {message['error']}")
            return message["result"]  # type: ignore[no-any-return]

    def open_page(self, url: str) -> str:
        """A new tab with `url` loaded (its load event fired); its session id."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session: str = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session)
        self.call("Page.navigate", session, url=url)
        self.wait_for_event("Page.loadEventFired", session)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of `expression` in the page, its promise awaited."""
        result = self.call(
            "Runtime.evaluate", session, expression=expression, awaitPromise=True,
            returnByValue=True,
        )  # fmt: skip
        if "exceptionDetails" in result:
            raise CdpError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")


def _high_pipe() -> tuple[int, int]:
    """A pipe whose ends are above 9, so moving them to 3 and 4 overwrites neither."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]


@contextmanager
def open_browser() -> Iterator[Browser]:
    assert CHROMIUM is not None, "chromium is missing: run `make test`, which installs it"
    to_browser_r, to_browser_w = _high_pipe()
    from_browser_r, from_browser_w = _high_pipe()
    with tempfile.TemporaryDirectory() as profile:
        # bash (dash takes no fd above 9) moves the pipes where Chromium expects them:
        # it reads 3 and writes 4.
        command = (
            f'exec "$0" --headless --no-sandbox --disable-gpu --remote-debugging-pipe '
            f"--user-data-dir={profile} --no-first-run about:blank "
            f"3<&{to_browser_r} 4>&{from_browser_w}"
        )
        process = subprocess.Popen(
            ["bash", "-c", command, CHROMIUM], pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        browser = Browser(to_browser_w, from_browser_r)
        try:
            yield browser
        finally:
            try:
                browser.call("Browser.close")
            except (CdpError, OSError):
                pass
            browser.close()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
