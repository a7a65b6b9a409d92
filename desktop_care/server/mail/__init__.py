"""Mail: rendering the outbox's messages from Jinja2 templates, and the background
sender that delivers them by SMTP or to a Maildir (docs/server.md, "Mail")."""

from .render import Rendered, render
from .sender import MailSender, MailSettings, SmtpUrlError, parse_smtp_url

__all__ = ["MailSender", "MailSettings", "Rendered", "SmtpUrlError", "parse_smtp_url", "render"]
