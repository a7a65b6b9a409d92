"""The member portal in a real browser: Debian's headless Chromium driven by Selenium
through Debian's ``chromedriver`` (QT.md, "A portal page in a real browser"; ``./dev
test`` installs both packages, so nothing is downloaded at run time).

What a member does — open a page, type into a field, click — and what they see: text,
field values, the page's own layout. Waits are Selenium's (a condition polled with a
deadline), never sleeps. Script run here goes through WebDriver's own channel, outside
the portal's Content-Security-Policy, which allows the pages none.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def heading_is(text: str) -> str:
    """A page condition: the page's ``h1`` reads ``text``."""
    return f"document.querySelector('h1') !== null && document.querySelector('h1').innerText.trim() === {json.dumps(text)}"


class Chromium:
    """One headless Chromium window (1280×800 unless told)."""

    def __init__(self, width: int = 1280, height: int = 800, timeout: float = 20.0) -> None:
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
                         "--hide-scrollbars", "--no-first-run"):
            options.add_argument(argument)
        options.binary_location = CHROMIUM
        self.timeout = timeout
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(timeout)

    # ----------------------------------------------------------------- what a person does

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def type(self, css: str, text: str) -> None:
        """Clear the field and type ``text`` into it, key by key."""
        field = self.driver.find_element(By.CSS_SELECTOR, css)
        field.clear()
        if text:
            field.send_keys(text)

    def click(self, css: str, then: str | None = None, *, new_page: bool = False) -> None:
        """Click ``css``; with ``new_page``, wait until the page it leads to has loaded
        (even one with the same heading); with ``then``, until that page condition holds."""
        if new_page:
            self.driver.execute_script("window.__before_click = true")
        self.driver.find_element(By.CSS_SELECTOR, css).click()
        if new_page:
            self.wait_for("window.__before_click === undefined && document.readyState === 'complete'")
        if then is not None:
            self.wait_for(then)

    def submit_and_wait(self, css: str, heading: str) -> None:
        """Click a submit button, wait for the next page, and check its heading."""
        self.click(css, new_page=True)
        assert self.text("h1") == heading, self.text("main")

    # ----------------------------------------------------------------- what a person sees

    def text(self, css: str = "body") -> str:
        try:
            return str(self.driver.find_element(By.CSS_SELECTOR, css).text)
        except NoSuchElementException:
            return ""

    def has(self, css: str) -> bool:
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def value(self, css: str) -> str:
        return str(self.driver.find_element(By.CSS_SELECTOR, css).get_property("value"))

    def script(self, source: str) -> Any:
        """Run ``source`` (a function body: ``return …``) in the page."""
        return self.driver.execute_script(source)

    def evaluate(self, expression: str) -> Any:
        return self.driver.execute_script(f"return ({expression});")

    def wait_for(self, expression: str, timeout: float | None = None) -> Any:
        """Wait until ``expression`` is truthy on the page; its value."""
        try:
            return WebDriverWait(self.driver, timeout or self.timeout).until(lambda _d: self.evaluate(expression))
        except TimeoutException:
            raise AssertionError(f"{expression!r} did not hold within {timeout or self.timeout}s "
                                 f"(at {self.url})") from None

    # ----------------------------------------------------------------- the window

    def resize(self, width: int, height: int) -> None:
        self.driver.set_window_size(width, height)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save the window (or, ``full_page``, the whole page) as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if full_page:
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot",
                                               {"format": "png", "captureBeyondViewport": True})
            path.write_bytes(base64.b64decode(shot["data"]))
        else:
            assert self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        self.driver.quit()
