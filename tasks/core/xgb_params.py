"""Which XGBoost parameters a search space may tune.

XGBoost only warns about a parameter it does not know and trains on, so a misspelt name
would tune nothing for the whole budget. Names are XGBoost 3's tree and DART booster
parameters (https://xgboost.readthedocs.io/en/stable/parameter.html), aliases included.
"""

from __future__ import annotations

TUNABLE = frozenset(
    {
        "eta",
        "learning_rate",
        "gamma",
        "min_split_loss",
        "max_depth",
        "min_child_weight",
        "max_delta_step",
        "subsample",
        "sampling_method",
        "colsample_bytree",
        "colsample_bylevel",
        "colsample_bynode",
        "lambda",
        "reg_lambda",
        "alpha",
        "reg_alpha",
        "scale_pos_weight",
        "grow_policy",
        "max_leaves",
        "max_bin",
        "num_parallel_tree",
        "max_cat_to_onehot",
        "max_cat_threshold",
        "multi_strategy",
        "booster",
        "sample_type",
        "normalize_type",
        "rate_drop",
        "one_drop",
        "skip_drop",
        "base_score",
        "max_cached_hist_node",
    }
)

# Set by Retune from the spec, the device and the worker: tuning them would break a run.
FIXED = {
    "objective": "task",
    "eval_metric": "metric",
    "device": "gpu",
    "tree_method": "(always hist)",
    "nthread": "tuning.nthread",
    "seed": "tuning.seed",
    "num_class": "(from the data)",
    "num_boost_round": "tuning.num_boost_round",
    "n_estimators": "tuning.num_boost_round",
    "early_stopping_rounds": "tuning.early_stopping_rounds",
}


def unknown_reason(name: str) -> str | None:
    """Why ``name`` cannot be in a search space, or None if it can."""
    if name in TUNABLE:
        return None
    if name in FIXED:
        return f"{name!r} is set by Retune (from {FIXED[name]}), not tuned"
    return f"{name!r} is not an XGBoost booster parameter Retune can tune"
