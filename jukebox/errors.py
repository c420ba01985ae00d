"""The one base class for errors a user can cause.

A page or the CLI catches :class:`JukeboxError` and shows its message as it is: every subclass
says, in a sentence, what is wrong and what to do about it. Anything else that escapes is a bug
of ours and is allowed to show as one.
"""


class JukeboxError(Exception):
    """Something a user gave or chose cannot be used; the message says what and how to fix it."""
