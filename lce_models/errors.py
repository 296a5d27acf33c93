"""The one base class of the errors a user's mistake causes (a bad flag, an unknown network, a
missing or corrupt file): the tools print them as one line and exit with status 2. Free of
TensorFlow, so that every tool can catch them."""


class UserError(Exception):
    """A mistake of the user's: printed as one line, exit status 2, no traceback."""
