"""Keywords renamed so that the same thing has the same name everywhere ("how many" is `n`, as
in `recommend(user, n=10)`): the old keyword still works for now, with a DeprecationWarning
naming the new one, so a user's script keeps running and learns the new spelling."""

from __future__ import annotations

import warnings
from typing import TypeVar

from embedrec.errors import ModelError

T = TypeVar("T")


def renamed_keyword(
    function: str, old: str, new: str, old_value: T | None, value: T, default: T | None = None
) -> T:
    """`value`, or `old_value` where the caller still used the old keyword `old` (warned);
    both given, at different values (`value` not its `default`), is an error naming both."""
    if old_value is None:
        return value
    if value != default and value != old_value:
        raise ModelError(
            f"{function}: {new}={value!r} and {old}={old_value!r} are one setting ({old} is "
            f"its old name): give {new} only"
        )
    warnings.warn(
        f"{function}({old}=) is renamed {function}({new}=); {old}= will be removed",
        DeprecationWarning,
        stacklevel=3,  # the caller of the renamed function
    )
    return old_value
