"""A real headless chromium that tests drive: open a page, run JavaScript in it (type into a field,
read what it shows, look at its sessionStorage), take a screenshot.

It speaks the DevTools protocol over a pipe (``--remote-debugging-pipe``: commands on the browser's fd 3,
replies on its fd 4, each a JSON message ended by a NUL byte), so it needs neither WebDriver nor a
websocket library. Imported as ``from _browser import Browser, find_chromium``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, binary: str, profile: Path, *, width: int = 1400, height: int = 1000, timeout: float = 60):
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # Out of the way of fds 3 and 4, which bash makes the browser's ends of the pipes (bash: dash
        # takes one-digit fds only).
        high_cmd, high_out = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(out_w)
        self.log = profile.with_suffix(".log")
        profile.mkdir(parents=True, exist_ok=True)
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                f"--user-data-dir={profile}", f"--window-size={width},{height}", "--remote-debugging-pipe",
                "about:blank"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["bash", "-c", f'exec "$@" 3<&{high_cmd} 4>&{high_out} {high_cmd}<&- {high_out}>&-', "bash", *args],
                pass_fds=(high_cmd, high_out), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(high_cmd)
        os.close(high_out)
        try:
            page = self._first_page()
            self.session = self.send("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
            self.send("Page.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _first_page(self) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            pages = [t["targetId"] for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
            if pages:
                return pages[0]
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium opened no page (see {self.log})")
            time.sleep(0.1)

    # -- the protocol ------------------------------------------------------------------------------

    def send(self, method: str, session: bool = False, **params) -> dict:
        """Send one command and return its result (events that arrive meanwhile are dropped)."""
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out_r], [], [], left)[0]:
                raise BrowserError(f"chromium did not answer within {self.timeout:.0f}s (see {self.log})")
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self.proc.poll()}, see {self.log})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    # -- what tests use ----------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its document has loaded (its scripts may still be fetching)."""
        self.js("window.__fs3_left = true")  # gone once the new document replaced this one
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + self.timeout
        while not self.js("window.__fs3_left === undefined && document.readyState === 'complete'"):
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not load within {self.timeout:.0f}s")
            time.sleep(0.05)

    def js(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self, selector: str) -> str:
        return self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")

    def html(self) -> str:
        return self.js("document.documentElement.outerHTML")

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.send("Page.captureScreenshot", session=True, format="png")["data"])
        path.write_bytes(png)
        return png

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.write(self._cmd_w, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for fd in (self._cmd_w, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
