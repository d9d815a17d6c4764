"""The class that holds each kind when a model is loaded to score only
(`Recommender.load(path, arrays_only=True)`, what `embedrec serve` does): the kinds whose
learned state is arrays score with numpy and load no torch. The dot-product kinds are their
torch module's arrays (`dot_arrays`); the closed-form and iALS kinds are arrays already and load
as themselves. A kind not named here (nn, bpr, average, a custom module) loads as trained, with
torch."""

from __future__ import annotations

from embedrec.models.base import Model
from embedrec.models.bias import BiasKind
from embedrec.models.dot_arrays import BmfArrays, DotArrays, DotBiasArrays
from embedrec.models.ease import EaseKind
from embedrec.models.ials import IALSKind
from embedrec.models.popular import PopularKind

ARRAY_KINDS: dict[str, type[Model]] = {
    kind.name: kind
    for kind in (DotArrays, DotBiasArrays, BmfArrays, BiasKind, EaseKind, IALSKind, PopularKind)
}
