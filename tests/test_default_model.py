"""The default does both jobs: bmf predicts, a ranker beside it recommends (MovieLens 100k)."""

import pytest

import embedrec


@pytest.mark.slow
def test_default_on_u1_beats_ease_and_keeps_its_rmse(ml100k_dir, u1_default):
    split = embedrec.load_movielens_fold(ml100k_dir, "u1")
    rec = embedrec.load(u1_default[1])  # `embedrec train --data movielens-100k --split u1`
    assert rec.model_name == "bmf+ease" and rec.blend > 0
    assert embedrec.evaluate(rec, split.valid)["rmse"] <= 0.889  # the accuracy issue's target
    ranking = embedrec.evaluate_ranking(rec.score_items, split.train, split.valid, k=10)
    # the ranking issue's targets (EASE at its best: 0.377 / 0.448)
    assert ranking["precision@10"] >= 0.39 and ranking["ndcg@10"] >= 0.46
    neighbours = rec.similar_items("Star Wars (1977)", n=3)
    assert {"Empire Strikes Back, The (1980)", "Return of the Jedi (1983)"} <= set(
        neighbours["title"]
    )
    assert neighbours["n_ratings"].min() >= embedrec.MIN_RATINGS
    alone = embedrec.train(split, ranker=None, epochs=20)
    assert alone.model_name == "bmf" and alone.ranker is None
