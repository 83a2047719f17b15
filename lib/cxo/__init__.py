"""cxo: turns labelled GitHub issues into agent work and reviewable draft pull requests."""

__version__ = "0.1.0"
