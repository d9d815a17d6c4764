import numpy as np
import pytest

from embedrec import DataError, IdMap
from embedrec.data.titles import ItemNames, normalise_title

TITLES = np.array(
    [
        "Star Wars (1977)",
        "Silence of the Lambs, The (1991)",
        "Net, The (1995)",
        "Chasing Amy (1997)",
        "Chasing Amy (1997)",
        "Heat (1995)",
    ],
    dtype=object,
)
NAMES = ItemNames(IdMap([50, 98, 7, 246, 268, 6]), TITLES[np.argsort([50, 98, 7, 246, 268, 6])])


@pytest.mark.parametrize(
    "query, item",
    [
        ("Star Wars (1977)", 50),
        ("star wars", 50),
        ("STAR WARS (1977)", 50),
        ("The Silence of the Lambs", 98),
        ("Silence of the Lambs", 98),
        ("silence of the lambs, the (1991)", 98),
        ("The Net (1995)", 7),
        (98, 98),
        ("246", 246),
    ],
)
def test_forgiving_lookup(query, item):
    assert NAMES.item_map.ids[NAMES.resolve(query)] == item


def test_ambiguous_title_lists_the_ids():
    with pytest.raises(DataError, match=r"matches 2 items: 246 'Chasing Amy \(1997\)'; 268"):
        NAMES.resolve("Chasing Amy")


def test_unknown_title_suggests_the_closest():
    with pytest.raises(DataError, match=r"unknown item 'Star Warz'; closest: 50 'Star Wars"):
        NAMES.resolve("Star Warz")


def test_normalise_moves_articles_and_drops_the_year():
    assert normalise_title("Net, The (1995)") == "net 1995"
    assert normalise_title("The Net") == normalise_title("Net, The (1995)", keep_year=False)
