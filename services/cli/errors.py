"""The one error the commands raise for the user to read: `main` prints its message on stderr
and exits with its code, so no command prints a traceback for a foreseeable problem."""

from __future__ import annotations

#: the exit code of every error a command can name (DESIGN.md: "1 on error")
FAILED = 1
#: argparse's own code for a command line it cannot parse
USAGE = 2


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.message, self.code = message, code
