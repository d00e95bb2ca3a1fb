"""The exception type the CLI and scripts turn into a short message and a non-zero exit."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

EXIT_USER_ERROR = 2


class MnistLitError(Exception):
    """A problem the user can fix; its message names the problem and the fix in one paragraph.

    Its subclasses are also the standard exception that fits, so library users can catch those.
    """


class ArgumentError(MnistLitError, ValueError):
    """A constructor's argument that cannot be used; the message names the argument, and the CLI's the flag.

    Args:
        message: The paragraph, naming the argument as ``{name}`` (``"{name} must be positive"``).
        name: The argument, as a library user passes it (``lr``).
        flag: The same on the command line (``--model.lr``); the CLI prints the message with it.
    """

    def __init__(self, message: str, name: str = "", flag: str = "") -> None:
        super().__init__(message.replace("{name}", name))
        self.cli_message = message.replace("{name}", flag or name)


class MissingFileError(MnistLitError, FileNotFoundError):
    """A file or folder the user named, or that a step needs, is not there."""


def print_error(err: MnistLitError) -> int:
    """Write the one-paragraph message to stderr; return the exit status for it."""
    print(f"error: {getattr(err, 'cli_message', err)}", file=sys.stderr)
    return EXIT_USER_ERROR


def exits_on_user_error(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a script's ``main``: a ``MnistLitError`` becomes its message and exit status 2, no traceback."""

    @functools.wraps(main)
    def wrapper(*args: object, **kwargs: object) -> int:
        try:
            return main(*args, **kwargs)
        except MnistLitError as err:
            return print_error(err)

    return wrapper
