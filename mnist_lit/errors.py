"""The one exception type the CLI turns into a short message and a non-zero exit."""


class MnistLitError(Exception):
    """A problem the user can fix; its message names the problem and the fix in one paragraph."""
