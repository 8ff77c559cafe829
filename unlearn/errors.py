"""The one exception type that reaches the user as a single line instead of a traceback."""


class UserError(Exception):
    """A problem the user can fix: the message names the key or file, what is wrong and the fix."""
