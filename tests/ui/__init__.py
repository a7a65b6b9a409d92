"""Tests of the Qt UI, the embedded server launcher and the app flow."""
