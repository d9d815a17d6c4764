"""The exceptions embedrec raises on purpose.

Everything a user can get wrong (a file, a column, an id, a flag) surfaces as one of these with a
message that names the place and says what to do; the CLI prints the message without a traceback.
"""


class EmbedrecError(Exception):
    """Base class: catch this to handle every error embedrec raises on purpose."""


class DataError(EmbedrecError, ValueError):
    """Ratings data that cannot be read or would give wrong numbers (names file, line, field)."""


class ModelError(EmbedrecError, ValueError):
    """A model directory, configuration or request that does not fit the model."""
