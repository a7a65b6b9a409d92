"""The member portal as a browser uses it: requests with cookies, forms with their
CSRF token."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"')
_INPUT = re.compile(r'<input id="[a-z0-9_]+" name="([a-z0-9_]+)" type="(?:text|email|tel)" value="([^"]*)"')
_ERROR = re.compile(r'<div class="error" id="([a-z0-9_]+)-error">([^<]+)</div>')
_FORM_ERROR = re.compile(r'<div class="form-error" role="alert">([^<]+)</div>')
_FLASH = re.compile(r'<div class="flash [^"]+" role="status">([^<]+)</div>')
_H1 = re.compile(r"<h1>([^<]+)</h1>")


@dataclass
class Page:
    response: requests.Response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def url(self) -> str:
        return self.response.url

    @property
    def title(self) -> str:
        found = _H1.search(self.text)
        return html.unescape(found.group(1)) if found else ""

    @property
    def hidden(self) -> dict[str, str]:
        return {name: html.unescape(value) for name, value in _HIDDEN.findall(self.text)}

    @property
    def inputs(self) -> dict[str, str]:
        """The values of the page's visible text fields, as a browser would send them."""
        return {name: html.unescape(value) for name, value in _INPUT.findall(self.text)}

    @property
    def errors(self) -> dict[str, str]:
        return {name: html.unescape(text) for name, text in _ERROR.findall(self.text)}

    @property
    def form_error(self) -> str:
        found = _FORM_ERROR.search(self.text)
        return html.unescape(found.group(1)) if found else ""

    @property
    def flash(self) -> str:
        found = _FLASH.search(self.text)
        return html.unescape(found.group(1)) if found else ""


@dataclass
class Browser:
    base: str
    http: requests.Session = field(default_factory=requests.Session)
    last: Page | None = None

    def get(self, url: str) -> Page:
        self.last = Page(self.http.get(urljoin(self.base, url), timeout=15))
        return self.last

    def submit(self, action: str, **fields: str) -> Page:
        """Post the form of the last page (its hidden fields, CSRF included) with ``fields``."""
        assert self.last is not None, "open a page first"
        data = {**self.last.hidden, **fields}
        self.last = Page(self.http.post(urljoin(self.base, action), data=data, timeout=15))
        return self.last

    def fill(self, action: str, **fields: str) -> Page:
        """Post the last page's form as a browser does: every field as shown (hidden
        and visible), with ``fields`` typed over them."""
        assert self.last is not None, "open a page first"
        data = {**self.last.hidden, **self.last.inputs, **fields}
        self.last = Page(self.http.post(urljoin(self.base, action), data=data, timeout=15))
        return self.last

    def sign_in(self, username: str, password: str) -> Page:
        self.get("/portal/sign-in")
        return self.submit("/portal/sign-in", username=username, password=password)
