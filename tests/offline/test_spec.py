"""Pipeline specs: edits, validation, serialisation, diffs and the remedies."""

from __future__ import annotations

import pytest
from gome_offline.profile import profile_for
from gome_offline.spec import (
    FAMILIES,
    ModelSpec,
    PipelineSpec,
    SpecError,
    cheaper,
    default_params,
    default_spec,
    robust,
    smaller,
)


@pytest.fixture
def profile(make_competition):
    return profile_for(make_competition("binary"))


def test_defaults_follow_the_data(make_competition):
    assert default_spec(profile_for(make_competition("binary"))).model.family == "hist_gbm"
    assert default_spec(profile_for(make_competition("text"))).model.family == "linear"
    images = default_spec(profile_for(make_competition("images")))
    assert images.model.family == "svm" and images.features.scale is False


def test_default_params_are_sized_for_the_data(profile):
    assert default_params("random_forest", profile)["n_estimators"] == 300
    assert (
        default_params("random_forest")["n_estimators"] == FAMILIES["random_forest"]["n_estimators"]
    )
    with pytest.raises(SpecError, match="unknown model family"):
        default_params("xgboost")


def test_apply_dotted_keys(profile):
    spec = default_spec(profile)
    new = spec.apply(
        {
            "model.family": "random_forest",
            "model.params.min_samples_leaf": 4,
            "features.log_target": True,
            "features.encoding": "ordinal",
            "cv_folds": 3,
            "class_weight": "balanced",
        },
        profile,
    )
    assert new.model.family == "random_forest"
    assert new.model.params["min_samples_leaf"] == 4  # applied after the family switch
    assert new.model.params["n_estimators"] == 300  # the new family's defaults
    assert new.features.log_target and new.features.encoding == "ordinal"
    assert (new.cv_folds, new.class_weight) == (3, "balanced")
    assert spec.model.family == "hist_gbm"  # specs are values: the original is unchanged


def test_ensemble_edits(profile):
    spec = default_spec(profile)
    two = spec.apply({"ensemble.add": "linear"}, profile)
    assert two.families == ("hist_gbm", "linear")
    assert two.apply({"ensemble.add": "linear"}, profile) == two  # no duplicate members
    three = two.apply({"ensemble.add": {"family": "knn", "params": {"n_neighbors": 5}}}, profile)
    assert three.ensemble[-1].params["n_neighbors"] == 5
    assert three.apply({"ensemble.remove": "knn"}, profile) == two
    stacked = two.apply({"ensemble.method": "stack"}, profile)
    assert stacked.ensemble_method == "stack"
    members = spec.apply({"ensemble.members": ["svm", "extra_trees"]}, profile)
    assert members.families == ("hist_gbm", "svm", "extra_trees")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"model.family": "xgboost"}, "unknown model family"),
        ({"model.params.depth": 3}, "has no hyperparameter 'depth'"),
        ({"model.params.max_iter": -5}, "positive integer"),
        ({"model.params.learning_rate": "fast"}, "positive number"),
        ({"features.encoding": "hashing"}, "features.encoding"),
        ({"features.log_target": "yes"}, "true or false"),
        ({"features.colour": 1}, "unknown feature option"),
        ({"cv_folds": 1}, "cv_folds"),
        ({"ensemble.members": "linear"}, "list of models"),
        ({"learning_rate": 0.1}, "unknown edit key"),
    ],
)
def test_bad_edits_are_clear_errors(profile, edit, message):
    with pytest.raises(SpecError, match=message):
        default_spec(profile).apply(edit, profile)


def test_json_round_trip_and_diff(profile):
    spec = default_spec(profile).apply(
        {"ensemble.add": "linear", "features.drop": ["city"], "sample_rows": 1000}, profile
    )
    assert PipelineSpec.from_json(spec.to_json()) == spec
    other = spec.apply({"model.family": "extra_trees", "features.interactions": True}, profile)
    assert spec.apply(spec.diff(other), profile) == other
    assert spec.diff(spec) == {}


def test_broken_json_is_a_spec_error():
    with pytest.raises(SpecError, match="not JSON"):
        PipelineSpec.from_json("{")
    with pytest.raises(SpecError, match="not a pipeline spec"):
        PipelineSpec.from_json('{"features": {}}')


def test_remedies_change_what_they_promise(profile):
    spec = default_spec(profile).apply(
        {"ensemble.members": ["random_forest", "svm"], "features.interactions": True}, profile
    )
    fast = cheaper(spec, profile)
    assert fast.cv_folds <= 3 and len(fast.ensemble) <= 1 and not fast.features.interactions
    assert fast.model.params["max_iter"] < spec.model.params["max_iter"]
    small = smaller(spec, profile)
    assert small.features.encoding == "ordinal" and len(small.ensemble) <= 1
    safe = robust(profile)
    assert safe.features.encoding == "ordinal" and not safe.ensemble


def test_model_spec_named_constructors():
    model = ModelSpec.of("svm", C=10)
    assert model.params["C"] == 10.0 and model.with_params(C=1).params["C"] == 1.0
    assert ModelSpec.from_dict("knn") == ModelSpec.of("knn")
    assert "describe" not in model.to_dict()
