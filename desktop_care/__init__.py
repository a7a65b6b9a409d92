"""desktop_care: a customer-care console for membership organisations."""

__version__ = "0.1.0"
