"""The user's own mistakes. Imports nothing, so the argument parser can raise it before anything heavy loads."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user (an unknown id, a bad flag value): one line on stderr, exit ``EXIT_USAGE`` (2)."""
