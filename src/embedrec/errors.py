"""The exceptions embedrec raises on purpose.

Everything a user can get wrong (a file, a column, an id, a flag) surfaces as one of these with a
message that names the place and says what to do; the CLI prints the message without a traceback.
"""


class EmbedrecError(Exception):
    """Base class: catch this to handle every error embedrec raises on purpose."""

    # True where another process has told the user already (a rank of a distributed run
    # failing with the first rank's error, or stopped by its launcher, which says why): the
    # CLI then exits 2 without a second copy of the line
    reported: bool = False


class DataError(EmbedrecError, ValueError):
    """Ratings data that cannot be read or would give wrong numbers (names file, line, field)."""


class ModelError(EmbedrecError, ValueError):
    """A model directory, configuration or request that does not fit the model."""


class UnknownIdError(DataError, KeyError):
    """A user or item id (or title) the model was not trained on."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousNameError(DataError):
    """A title that matches several items (the message lists them with their ids)."""


class OutputExistsError(EmbedrecError, FileExistsError):
    """A file or directory would be replaced, and the caller did not say `force`."""


class TooLargeError(ModelError):
    """The data is past what a model kind is built for (its message names the alternative)."""


class DistributedError(EmbedrecError):
    """A distributed run that cannot start, or whose processes lost one another (a rank died)."""
