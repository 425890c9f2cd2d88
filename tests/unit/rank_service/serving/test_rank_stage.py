import numpy as np
import pyarrow.parquet as pq
import pytest

from core.api import Candidate, Candidates, ProfileLookup
from core.online_store import UserProfile
from core.registry import ModelNotFoundError, ModelRef
from rank_service.serving.probe import UnusableModelError
from rank_service.serving.scorer import ScoreRequest
from rank_service.serving.stage import RankRequest, RankStage, model_ref
from tests.support.rank_home import AT_MS, Profiles, publish


def test_the_stage_scores_in_the_context_of_its_clock(home) -> None:
    registry, items = home
    profile = UserProfile(user_id=3, user_rating_count=4, user_last_ts=AT_MS - 60_000)
    candidates = [Candidate(item_id=i, score=0.0) for i in range(1, 21)]
    scored = []
    for at_ms in (AT_MS, AT_MS + 3 * 86_400_000 + 5 * 3_600_000):
        stage = RankStage(Profiles({3: profile}), registry, items, clock=lambda at=at_ms: at)
        stage.reconfigure({"name": "mlp", "version": "v1"})
        result = stage.rank(3, candidates).candidates
        request = ScoreRequest(profile, 3, result.item_ids, at_ms)
        assert np.allclose(result.scores, stage.scorer.score_many([request])[0], atol=1e-6)
        scored.append(dict(zip(result.item_ids, result.scores, strict=True)))
    assert scored[0] != scored[1]


def test_stage_sorts_by_probability_and_keeps_routes(home) -> None:
    registry, items = home
    stage = RankStage(Profiles({}), registry, items)
    stage.reconfigure({"name": "mlp", "version": "v1"})
    candidates = [
        Candidate(item_id=i, score=0.0, routes=["embedding", "popular"][: 1 + i % 2])
        for i in range(1, 31)
    ]
    result = stage.rank(7, candidates)
    scores = result.candidates.scores
    assert scores == sorted(scores, reverse=True)
    assert {c.item_id for c in result.candidates.as_list()} == set(range(1, 31))
    assert all(c.routes == candidates[c.item_id - 1].routes for c in result.candidates.as_list())
    assert result.trace.stage == "rank" and result.trace.model == "mlp:v1"
    assert (result.trace.candidates_in, result.trace.candidates_out) == (30, 30)
    assert result.trace.detail["profile"] == "cold"


def test_reconfigure_keeps_the_serving_version_when_the_new_one_fails(home) -> None:
    registry, items = home
    stage = RankStage(Profiles({}), registry, items)
    with pytest.raises(ModelNotFoundError):
        stage.reconfigure({"name": "mlp", "version": "v9"})
    with pytest.raises(RuntimeError, match="no rank model"):
        stage.rank(1, [Candidate(item_id=1, score=0.0)])
    stage.reconfigure({"name": "mlp", "version": "v1"})
    stage.reconfigure({"name": "mlp", "version": "v9"})
    assert stage.rank(1, [Candidate(item_id=1, score=0.0)]).trace.model == "mlp:v1"


def test_a_version_that_scores_nan_is_refused_and_the_old_one_keeps_serving(home) -> None:
    registry, items = home
    bad = publish(registry, pq.read_table(items), "mlp", seed=1, nan=True)
    assert bad == "mlp/v2"
    fresh = RankStage(Profiles({}), registry, items)
    with pytest.raises(UnusableModelError, match="NaN or inf"):
        fresh.reconfigure({"name": "mlp", "version": "v2"})
    with pytest.raises(UnusableModelError):
        fresh.load(bad)

    stage = RankStage(Profiles({}), registry, items)
    stage.reconfigure({"name": "mlp", "version": "v1"})
    candidates = [Candidate(item_id=i, score=0.0) for i in range(1, 21)]
    before = stage.rank(4, candidates)
    stage.reconfigure({"name": "mlp", "version": "v2"})
    after = stage.rank(4, candidates)
    assert after.trace.model == "mlp:v1"
    assert after.candidates.scores == [c.score for c in before.candidates.as_list()]
    assert all(np.isfinite(c.score) for c in after.candidates.as_list())


def test_a_batch_is_scored_with_one_forward_pass_per_model_and_split_back(home) -> None:
    registry, items = home
    other = publish(registry, pq.read_table(items), "deepfm", seed=3)
    profile = UserProfile(
        user_id=1, user_rating_count=5, user_genres=["Drama"], user_recent_items=[2]
    )
    stage = RankStage(Profiles({1: profile}), registry, items)
    stage.reconfigure({"name": "mlp", "version": "v1"})
    scorers = {other: stage.load(other), "mlp/v1": stage.load("mlp/v1")}
    passes: dict[str, int] = {}
    for model_id, scorer in [("", stage.scorer), *scorers.items()]:
        scorer.artifacts.model.register_forward_hook(
            lambda *_, key=model_id: passes.__setitem__(key, passes.get(key, 0) + 1)
        )
    requests = [
        RankRequest(user_id=1, candidates=[Candidate(item_id=i, score=0.0) for i in range(1, 11)]),
        RankRequest(
            user_id=2,
            candidates=[Candidate(item_id=i, score=0.0) for i in range(20, 45)],
            model_id=other,
        ),
        RankRequest(user_id=3, candidates=[Candidate(item_id=i, score=0.0) for i in (50, 7, 9)]),
        RankRequest(
            user_id=1,
            candidates=[Candidate(item_id=i, score=0.0) for i in range(5, 16)],
            model_id="mlp/v1",
        ),
        RankRequest(user_id=1, candidates=[], model_id=other),
    ]
    results = stage.rank_batch(requests, scorers)

    # The serving version and "mlp/v1" are one version: a pass for it, a pass for deepfm.
    assert sum(passes.values()) == 2 and passes[other] == 1
    assert [r.trace.model for r in results] == [
        "mlp:v1",
        "deepfm:v1",
        "mlp:v1",
        "mlp:v1",
        "deepfm:v1",
    ]
    assert [r.trace.detail["model_batch"] for r in results] == [3, 2, 3, 3, 2]
    assert all(r.trace.detail["batch"] == 5 for r in results)
    assert [r.trace.detail["profile"] for r in results] == [
        "found",
        "cold",
        "cold",
        "found",
        "found",
    ]
    for request, result in zip(requests, results, strict=True):
        scores = result.candidates.scores
        assert scores == sorted(scores, reverse=True)
        assert sorted(c.item_id for c in result.candidates.as_list()) == sorted(
            c.item_id for c in request.candidates.as_list()
        )
        scorer = scorers[request.model_id] if request.model_id else stage.scorer
        alone = scorer.score(
            profile if request.user_id == 1 else None,
            request.user_id,
            request.candidates.item_ids,
        )
        by_item = dict(zip(request.candidates.item_ids, alone, strict=True))
        assert all(abs(c.score - by_item[c.item_id]) < 1e-6 for c in result.candidates.as_list())
    # The two models disagree, so matching each one's own scores identifies the model.
    ids = list(range(20, 45))
    assert not np.allclose(scorers[other].score(None, 2, ids), stage.scorer.score(None, 2, ids))


def test_model_ids_must_name_a_version() -> None:
    assert model_ref("deepfm/v2") == ModelRef(kind="rank", name="deepfm", version="v2")
    for bad in ("deepfm", "/v2", "deepfm/", "a/b/c"):
        with pytest.raises(ValueError, match="NAME/VERSION"):
            model_ref(bad)


def test_a_profile_passed_along_is_used_and_only_the_others_are_read(home) -> None:
    registry, items = home
    stored = UserProfile(user_id=1, user_rating_count=5, user_genres=["Drama"])
    passed = UserProfile(user_id=2, user_rating_count=9, user_genres=["Comedy"])
    store = Profiles({1: stored, 2: stored.model_copy(update={"user_id": 2})})
    stage = RankStage(store, registry, items)
    stage.reconfigure({"name": "mlp", "version": "v1"})
    candidates = [Candidate(item_id=i, score=0.0) for i in range(1, 21)]

    given = stage.rank(2, candidates, ProfileLookup(profile=passed))
    assert store.reads == []
    assert given.trace.detail["profile"] == "found"
    expected = stage.scorer.score(passed, 2, given.candidates.item_ids)
    assert np.allclose(given.candidates.scores, expected, atol=1e-6)

    # Recall found no profile: the user is cold, though the store (here) would have one.
    cold = stage.rank(2, candidates, ProfileLookup(profile=None))
    assert store.reads == []
    assert cold.trace.detail["profile"] == "cold"

    requests = [
        RankRequest(user_id=1, candidates=candidates),
        RankRequest(user_id=2, candidates=candidates, user=ProfileLookup(profile=passed)),
        RankRequest(user_id=3, candidates=candidates),
    ]
    results = stage.rank_batch(requests, {})
    assert store.reads == [[1, 3]]
    assert [r.trace.detail["profile"] for r in results] == ["found", "found", "cold"]


def test_candidates_with_a_recall_affinity_are_ordered_by_it_with_the_ranker_as_a_nudge(
    home,
) -> None:
    registry, items = home
    ids = list(range(1, 9))
    affinity: list[float | None] = [0.1, 0.5, 0.3, None, 0.7, 0.2, 0.6, 0.4]
    pool = Candidates(
        item_ids=ids,
        scores=[0.0] * 8,
        routes=[["embedding"]] * 8,
        affinity=affinity,
        affinity_model="item_bag:v1",
    )
    nudged = RankStage(Profiles({}), registry, items, model_weight=1e-4)
    nudged.reconfigure({"name": "mlp", "version": "v1"})
    ranked = nudged.rank(4, pool)
    assert ranked.candidates.item_ids == [5, 7, 2, 8, 3, 6, 1, 4]  # the unknown item last
    assert ranked.candidates.affinity[:2] == [0.7, 0.6]
    assert ranked.trace.detail["order"] == "affinity"

    # With the ranker's weight large the ranker decides: its own order of the same pool.
    ruled = RankStage(Profiles({}), registry, items, model_weight=1e6)
    ruled.reconfigure({"name": "mlp", "version": "v1"})
    by_model = ruled.rank(4, pool.model_copy(update={"affinity": []}))
    assert by_model.trace.detail["order"] == "ranker"
    assert ruled.rank(4, pool).candidates.item_ids == by_model.candidates.item_ids


def test_a_model_that_fails_to_load_or_score_fails_only_its_own_requests(home) -> None:
    registry, items = home
    broken = publish(registry, pq.read_table(items), "deepfm", seed=3)
    stage = RankStage(Profiles({}), registry, items)
    stage.reconfigure({"name": "mlp", "version": "v1"})
    failing = stage.load(broken)

    def out_of_memory(_requests: list[ScoreRequest]) -> list[np.ndarray]:
        raise RuntimeError("out of memory")

    failing.score_many = out_of_memory  # type: ignore[method-assign]
    unloadable = ModelNotFoundError("no rank model deepfm version v9")
    candidates = [Candidate(item_id=i, score=0.0) for i in range(1, 11)]
    requests = [
        RankRequest(user_id=1, candidates=candidates),
        RankRequest(user_id=2, candidates=candidates, model_id="deepfm/v9"),
        RankRequest(user_id=3, candidates=candidates, model_id=broken),
        RankRequest(user_id=4, candidates=candidates, model_id="mlp/v1"),
    ]
    results = stage.rank_batch(
        requests, {"deepfm/v9": unloadable, broken: failing, "mlp/v1": stage.load("mlp/v1")}
    )

    assert results[1] is unloadable
    assert isinstance(results[2], RuntimeError)
    for user, result in ((1, results[0]), (4, results[3])):
        assert not isinstance(result, Exception)
        alone = stage.rank(user, candidates)
        assert result.candidates.item_ids == alone.candidates.item_ids
        assert np.allclose(result.candidates.scores, alone.candidates.scores, atol=1e-6)
        assert result.trace.detail["batch"] == 4


def test_without_a_serving_model_a_plain_request_fails_and_a_named_one_is_answered(home) -> None:
    registry, items = home
    stage = RankStage(Profiles({}), registry, items)
    candidates = [Candidate(item_id=i, score=0.0) for i in range(1, 6)]
    plain, named = stage.rank_batch(
        [
            RankRequest(user_id=1, candidates=candidates),
            RankRequest(user_id=1, candidates=candidates, model_id="mlp/v1"),
        ],
        {"mlp/v1": stage.load("mlp/v1")},
    )
    assert isinstance(plain, RuntimeError)
    assert not isinstance(named, Exception) and named.trace.model == "mlp:v1"
    with pytest.raises(RuntimeError, match="no rank model loaded"):
        stage.rank(1, candidates)
