"""The one exception the runner raises for problems the user can fix."""

from __future__ import annotations


class RunnerError(RuntimeError):
    """A problem with the book, a profile or the environment, explained for the user."""
