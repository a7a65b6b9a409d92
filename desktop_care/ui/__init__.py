"""The Qt shell. ``ui/qt.py`` is the one module that imports Qt."""
