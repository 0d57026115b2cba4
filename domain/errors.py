"""Errors that name the field at fault and the fix, for problem+json bodies."""

from __future__ import annotations


class FieldError(ValueError):
    """Raised inside validators; the API reports ``field`` and ``fix`` as they are."""

    def __init__(self, field: str, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.field = field
        self.message = message
        self.fix = fix
