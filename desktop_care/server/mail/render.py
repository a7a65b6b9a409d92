"""Messages from templates: ``templates/mail/<name>.subject.txt``, ``<name>.txt`` and
``<name>.html`` (HTML autoescaped). Every template gets ``portal_url`` (the portal's
address, for links) and ``organisation``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "mail"
ORGANISATION = "desktop_care"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, context: dict[str, Any], *, portal_url: str) -> Rendered:
    """The message ``template`` says, with ``context`` (raises jinja2 errors for an
    unknown template or a missing value)."""
    env = _environment()
    values = {**context, "portal_url": portal_url.rstrip("/") + "/portal", "organisation": ORGANISATION}
    subject = " ".join(env.get_template(f"{template}.subject.txt").render(values).split())
    return Rendered(
        subject=subject,
        text=env.get_template(f"{template}.txt").render(values),
        html=env.get_template(f"{template}.html").render(values),
    )


def subject_of(template: str, context: dict[str, Any]) -> str:
    """Only the subject (for listings of messages not rendered yet)."""
    env = _environment()
    values = {**context, "portal_url": "", "organisation": ORGANISATION}
    return " ".join(env.get_template(f"{template}.subject.txt").render(values).split())
