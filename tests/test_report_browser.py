"""The report in a real headless browser (Debian's chromium): the page loads without console
errors or failed loads, fetches nothing from the network, every figure decodes, and a
screenshot of the page shows the plots (the image regions are far from blank).

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so the test needs no WebSocket
client and no open port. Without chromium the test is skipped, except under ``CI=true``, where it
fails: CI installs chromium (``.ci/run``).
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from abm.report import write_report
from tests.abm.test_report_folders import write_replicates, write_whatif

TIMEOUT = 60.0


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required under CI=true (the report's browser test).")
        pytest.skip("chromium is not installed: `apt-get install chromium` to run this test")
    return found


class Browser:
    """A headless chromium with one page, driven over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def fds() -> None:  # in the child: the pipe ends as fds 3 (its input) and 4 (output)
            a, b = os.dup(to_browser), os.dup(from_browser)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "--window-size=1200,900", "about:blank"],
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _receive(self, done: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" not in message:
                    self.events.append(message)
                if done(message):
                    return message
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._read], [], [], max(left, 0))
            if not ready:
                msg = "chromium did not answer in time"
                raise TimeoutError(msg)
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                msg = "chromium closed the DevTools pipe"
                raise EOFError(msg)
            self._buffer += chunk

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        number = self._id
        reply = self._receive(lambda m: m.get("id") == number)
        assert "error" not in reply, reply
        return reply["result"]

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self._receive(lambda m: m.get("method") == "Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)  # fmt: skip
        return result["result"]["value"]

    def screenshot(self) -> np.ndarray:
        data = self.call("Page.captureScreenshot", session=True, format="png",
                         captureBeyondViewport=True)["data"]  # fmt: skip
        return image.imread(io.BytesIO(base64.b64decode(data)), format="png")

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=10)
        except Exception:  # a browser that does not close is stopped
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._write)
            os.close(self._read)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(chromium(), tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pages")
    whatif = write_whatif(root / "halve", n=4)
    reps = write_replicates(root / "reps", n=3)
    return {
        "whatif": write_report(whatif, root / "whatif.html", labels={"new_cases": "new cases"}),
        "replicates": write_report(reps, root / "replicates.html"),
    }


IMAGES = """Array.from(document.images).map(i => {
  const r = i.getBoundingClientRect();
  return {ok: i.complete && i.naturalWidth > 0, x: r.left + window.scrollX,
          y: r.top + window.scrollY, w: r.width, h: r.height};
})"""


@pytest.mark.parametrize("kind", ["whatif", "replicates"])
def test_the_report_opens_cleanly_and_shows_its_plots(browser, reports, kind, tmp_path):
    page = reports[kind]
    browser.open(page.resolve().as_uri())
    problems = [
        e["params"]
        for e in browser.events
        if e["method"] == "Runtime.exceptionThrown"
        or (
            e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert")
        )
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert problems == []
    fetched = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e["method"] == "Network.requestWillBeSent"
    ]
    assert fetched and all(u.startswith(("file://", "data:")) for u in fetched), fetched[:3]
    assert browser.evaluate("document.compatMode") == "CSS1Compat"  # standards mode
    assert browser.evaluate("document.querySelectorAll('h2').length") >= 5
    boxes = browser.evaluate(IMAGES)
    assert len(boxes) >= 2 and all(b["ok"] and b["w"] > 500 and b["h"] > 150 for b in boxes)

    shot = browser.screenshot()
    image.imsave(tmp_path / f"{kind}.png", shot)  # for a person to look at
    rgb = shot[..., :3]
    height, width = rgb.shape[:2]
    assert width >= 1000 and height >= max(b["y"] + b["h"] for b in boxes) - 2
    for b in boxes:
        top, left = round(b["y"]), round(b["x"])
        region = rgb[top : top + round(b["h"]), left : left + round(b["w"])]
        ink = (region < 0.85).any(axis=-1).mean()
        colours = len(np.unique((region * 255).astype(np.uint8).reshape(-1, 3), axis=0))
        assert 0.01 < ink < 0.6, (b, ink)
        assert colours > 30, (b, colours)
    # the text above the first figure is rendered too: the headline is not blank
    header = rgb[: round(boxes[0]["y"])]
    assert (header < 0.5).any(axis=-1).mean() > 0.005
