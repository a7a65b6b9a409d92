"""Entry script of the frozen app: PyInstaller runs a file as ``__main__``, and
``desktop_care/__main__.py`` uses package-relative imports, so start it from here."""

import sys

from desktop_care.__main__ import main

sys.exit(main())
