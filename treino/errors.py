"""Error types. Every error a user can cause is a TreinoError whose message says what went
wrong, where, and how to fix it; the CLI prints it as one line and exits with `exit_code`."""

from __future__ import annotations


class TreinoError(Exception):
    """Base of every user-facing error: one line, what / where / how to fix."""

    exit_code = 2

    def __str__(self) -> str:
        # one line by construction: a newline inside an echoed key, value or path shows as \n
        return super().__str__().replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(TreinoError):
    """The configuration (YAML file or --set override) is invalid."""


class DataError(TreinoError):
    """The data source cannot be read or does not fit the task."""


class ModelError(TreinoError):
    """The model cannot be built for this data, or a model file does not fit it."""


class RunError(TreinoError):
    """A run folder is missing, unreadable, locked or of another format."""


class DivergedError(TreinoError):
    """Training produced a non-finite loss."""

    exit_code = 3
