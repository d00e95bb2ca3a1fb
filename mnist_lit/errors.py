"""The one exception type the CLI and scripts turn into a short message and a non-zero exit."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

EXIT_USER_ERROR = 2


class MnistLitError(Exception):
    """A problem the user can fix; its message names the problem and the fix in one paragraph."""


def print_error(err: MnistLitError) -> int:
    """Write the one-paragraph message to stderr; return the exit status for it."""
    print(f"error: {err}", file=sys.stderr)
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
