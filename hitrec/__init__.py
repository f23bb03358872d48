"""hitrec: git-style collaboration on media fragments."""

__version__ = "0.1.0"
