"""The service's request and response bodies (pydantic), and the limits they enforce. They are
what `/docs` shows; every field has the name the library and CLI give the same thing."""

from __future__ import annotations

import re
from typing import Annotated, Union

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator
from starlette.convertors import Convertor, register_url_convertor

MAX_N = 1000  # longest list one request may ask for
MAX_PAIRS = 10_000  # pairs in one POST /predict
MAX_RATINGS = 1000  # ratings in one POST (feedback or a new user's)
MAX_BODY_BYTES = 1_000_000  # larger bodies get 413 before they are read

MAX_ID_CHARS = 200  # the store's id columns hold this many
# C0 and C1 control characters (NUL, tab, newline, DEL, ...) and lone surrogates: never part of
# a name, refused by PostgreSQL (NUL) or by every UTF-8 encoder (surrogates), and a line break
# in an id breaks every file it is written to
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """An id or title as given, refused (naming the character) when it holds a control
    character: a bad id is the request's 422, never a failed write for its neighbours."""
    found = UNPRINTABLE.search(text)
    if found is not None:
        raise ValueError(
            f"holds the control character {found.group()!r} at position {found.start()}; "
            "ids and titles are printable text"
        )
    return text


def user_text(text: str) -> str:
    """A user id in a path: printable, 1 to MAX_ID_CHARS characters, not only spaces."""
    if not text.strip():
        raise ValueError("a user id is not empty or only spaces")
    return printable(text)


def whole_id(value: int | float | str) -> int | str:
    """An id as text or a whole number: `printable` text (checked once the union has matched,
    so the error names the field once), and a number written 1.0 is the id 1 (JSON does not
    tell 1 from 1.0; the model then finds 1 as it finds '1'). A number with a fraction names
    no id: 422, naming the field."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is no id: an id is text or a whole number")
        return int(value)
    return value


Text = Annotated[str, AfterValidator(printable)]
# a raw id as in the data; items also by title. Strict: JSON `true` is no id (lax pydantic
# would take it as 1), nor is a number a rating's text
Id = Annotated[
    Union[Annotated[int, Strict()], Annotated[float, Strict()], Annotated[str, Strict()]],
    AfterValidator(whole_id),
]
Rating = Annotated[float, Strict()]  # an int is a rating; `true` is not
Count = Annotated[int, Strict()]
RawId = Union[int, str]  # an id in a response (the model's own: no need to be strict)


class IdConvertor(Convertor[str]):
    """A path parameter `{user:id}`: any characters, `/` (%2F) and line breaks included, so
    that every id reaches the route and its validator (a control character is a 422 naming
    the field, not a 404); starlette's `path` stops at a line break."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("id", IdConvertor())
UserPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID_CHARS, description="A user id."),
    AfterValidator(user_text),
]
ItemPath = Annotated[str, Path(description="An item id or title."), AfterValidator(printable)]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str = Field(description="What is wrong and what to do, in one message.")
    status: int
    detail: list[dict] | None = Field(None, description="Per-field problems (422 only).")


class CacheState(BaseModel):
    entries: int
    bytes: int = Field(description="What the kept entries hold, approximately.")
    max_bytes: int = Field(
        description="The bound (serve --cache, in MiB): past it the least recently used entries go."
    )


PRIVATE = "Shown only to a request bearing the service's token (never without a token)."


class Health(BaseModel):
    status: str = Field(
        description="'ok', or 'degraded' while the feedback database is unavailable (known "
        "users get the model's lists meanwhile; writes answer 503)."
    )
    model: str
    engine: str
    n_users: int
    n_items: int
    rating_scale: tuple[float, float] | None
    interactions: bool = Field(
        False,
        description="Trained on interactions (plays, clicks): it ranks only, and feedback may "
        "leave the rating out (an event weighing 1).",
    )
    item_noun: str = Field(
        "items",
        description="What the catalogue's items are, plural, for people (the page's wording): "
        "'films' for a model trained on MovieLens or MovieTweetings, else 'items'.",
    )
    loaded_at: float = Field(description="Unix time the serving model was loaded.")
    load_seconds: float
    version: str
    feedback_status: str = Field(description="'ok', or 'unavailable (<error class>)'.")
    n_feedback: int | None = Field(description="Stored ratings (None while unavailable).")
    cache: CacheState = Field(description="Kept lists and genre filters, per worker.")
    model_dir: str | None = Field(None, description=PRIVATE)
    feedback_db: str | None = Field(None, description=PRIVATE)
    pid: int | None = Field(None, description=PRIVATE)


class RecommendedItem(BaseModel):
    item: RawId
    title: str | None = None
    score: float = Field(
        description="What the list is ranked by (higher is better): unitless when a ranking "
        "model or a ranker ranks; `rating` is the number to show a person."
    )
    rating: float | None = Field(
        None,
        description="The predicted rating on the model's scale (stars): the model's for a rating "
        "model (with or without a ranker), a typical user's in a fallback list; None where the "
        "model predicts no ratings (a ranking model, interactions).",
    )


class Recommendations(BaseModel):
    user: RawId | None
    n: int
    fallback: bool = Field(
        description="True when nothing usable was known of the user and the "
        "list is what typical users rate highest (scores in stars)."
    )
    n_feedback: int = Field(0, description="Stored ratings folded in with the training ones.")
    degraded: bool = Field(
        False,
        description="True when the feedback database could not be read: the list is the "
        "model's alone, without the user's stored ratings (it comes back with the database).",
    )
    items: list[RecommendedItem]


class NewUserRequest(Closed):
    ratings: dict[Text, Rating] = Field(
        description="{item id or title: rating}", max_length=MAX_RATINGS
    )
    n: Count = Field(10, ge=1, le=MAX_N)
    exclude: list[Id] = Field(default_factory=list, max_length=MAX_N)
    genre: list[str] = Field(default_factory=list, max_length=50)


class ItemCard(BaseModel):
    item: RawId
    title: str | None = None
    genres: list[str]
    bias: float | None = Field(description="The learned parameter, as fastai's model.bias.")
    rating: float | None = Field(
        None,
        description="The bias in stars: the mean rating the model predicts for the item "
        "over typical users.",
    )
    n_ratings: int
    hidden: bool = False


class SimilarItem(BaseModel):
    item: RawId
    title: str | None = None
    score: float = Field(description="Cosine similarity of the learned factors.")
    n_ratings: int


class Similar(BaseModel):
    item: RawId
    title: str | None = None
    items: list[SimilarItem]


class FoundItem(BaseModel):
    item: RawId
    title: str | None = None
    n_ratings: int


class Search(BaseModel):
    query: str
    items: list[FoundItem]


class Pair(Closed):
    user: Id
    item: Id


class PredictRequest(Closed):
    pairs: list[Pair] = Field(max_length=MAX_PAIRS, description=f"At most {MAX_PAIRS:,} pairs.")


class Prediction(BaseModel):
    user: RawId
    item: RawId
    score: float | None
    error: str | None = Field(None, description="'unknown user' / 'unknown item' (no score).")


class Predictions(BaseModel):
    predictions: list[Prediction]


class RatingIn(Closed):
    item: Id
    # None: an event without a value (a play, a click), for a model trained on interactions
    rating: Rating | None = None


class FeedbackRequest(Closed):
    """One rating `{"item": ..., "rating": 4.5}` or a batch `{"ratings": [{...}, ...]}`; for a
    model trained on interactions (plays, clicks) the rating may be left out: an event that
    weighs 1."""

    item: Id | None = None
    rating: Rating | None = None
    ratings: list[RatingIn] | None = Field(None, min_length=1, max_length=MAX_RATINGS)

    @model_validator(mode="after")
    def one_form(self) -> FeedbackRequest:
        single = self.item is not None or self.rating is not None
        if single == (self.ratings is not None) or (single and self.item is None):
            raise ValueError('give {"item": ..., "rating": ...} or {"ratings": [...]}')
        return self

    def rows(self) -> list[RatingIn]:
        if self.ratings is not None:
            return self.ratings
        assert self.item is not None
        return [RatingIn(item=self.item, rating=self.rating)]


class FeedbackStored(BaseModel):
    user: RawId
    stored: int
    n_feedback: int = Field(description="The user's stored ratings, all told.")
    items: list[RawId]


class StoredRatings(BaseModel):
    user: RawId
    ratings: list[RatingIn]


class Hidden(BaseModel):
    item: RawId
    title: str | None = None
    hidden: bool


class ReloadRequest(Closed):
    model_dir: str | None = Field(None, description="A model directory (default: the current).")


class Reloaded(BaseModel):
    model_dir: str
    model: str
    n_users: int
    n_items: int
    load_seconds: float


MAX_MAP = 5000  # items /map shows at most


class MapPoint(BaseModel):
    item: RawId
    title: str | None = None
    n_ratings: int
    x: float
    y: float


class FactorMap(BaseModel):
    points: list[MapPoint]
