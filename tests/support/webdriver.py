"""Headless Chromium driven through its WebDriver (``chromedriver``), the W3C protocol
that Selenium speaks, over plain HTTP with ``requests``: the portal as a member's
browser shows it (QT.md, "A portal page in a real browser"). Debian's ``chromium``
and ``chromium-driver`` packages; ``./dev test`` installs them."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.support.servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(AssertionError):
    pass


class Chrome:
    """One headless Chromium window (1280×800 unless told)."""

    def __init__(self, width: int = 1280, height: int = 800, timeout: float = 30.0) -> None:
        port = free_port()
        self._process = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        self._base = f"http://127.0.0.1:{port}"
        self._http = requests.Session()
        self._wait(lambda: self._ready(), timeout, "chromedriver did not start")
        options = {"binary": CHROMIUM,
                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]}
        answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options, "pageLoadStrategy": "normal"}}})
        self._session = f"/session/{answer['sessionId']}"
        self._call("POST", f"{self._session}/timeouts", {"implicit": 5_000, "pageLoad": 20_000})

    # ----------------------------------------------------------------- the protocol

    def _ready(self) -> bool:
        try:
            return bool(self._http.get(f"{self._base}/status", timeout=2).json()["value"]["ready"])
        except (requests.RequestException, ValueError, KeyError):
            return False

    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise WebDriverError(what)
            time.sleep(0.05)  # polling a condition, with a deadline

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, f"{self._base}{path}", json=body if body is not None else {},
                                      timeout=60)
        value = response.json().get("value")
        if response.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    def _element(self, css: str) -> str:
        found = self._call("POST", f"{self._session}/element", {"using": "css selector", "value": css})
        return str(found[_ELEMENT])

    # ----------------------------------------------------------------- what a person does

    def open(self, url: str) -> None:
        self._call("POST", f"{self._session}/url", {"url": url})

    @property
    def url(self) -> str:
        return str(self._call("GET", f"{self._session}/url"))

    def text(self, css: str) -> str:
        return str(self._call("GET", f"{self._session}/element/{self._element(css)}/text"))

    def has(self, css: str) -> bool:
        found = self._call("POST", f"{self._session}/elements", {"using": "css selector", "value": css})
        return bool(found)

    def value(self, css: str) -> str:
        return str(self._call("GET", f"{self._session}/element/{self._element(css)}/property/value"))

    def type(self, css: str, text: str) -> None:
        """Clear the field and type ``text`` into it, key by key."""
        element = self._element(css)
        self._call("POST", f"{self._session}/element/{element}/clear")
        if text:
            self._call("POST", f"{self._session}/element/{element}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"{self._session}/element/{self._element(css)}/click")

    def submit_and_wait(self, css: str, heading: str, timeout: float = 20.0) -> None:
        """Click ``css`` (a submit button) and wait until the next page has loaded."""
        marker = "__before_submit"
        self.script(f"window.{marker} = true")
        self.click(css)
        self._wait(lambda: self.script(f"return window.{marker} === undefined && document.readyState === 'complete'"),
                   timeout, f"no new page after clicking {css}")
        assert self.text("h1") == heading

    def script(self, source: str) -> Any:
        """Run ``source`` in the page (WebDriver's own channel, outside the page's policy)."""
        return self._call("POST", f"{self._session}/execute/sync", {"script": source, "args": []})

    def resize(self, width: int, height: int) -> None:
        self._call("POST", f"{self._session}/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self._call("GET", f"{self._session}/screenshot")))

    def quit(self) -> None:
        try:
            self._call("DELETE", self._session)
        finally:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._http.close()
