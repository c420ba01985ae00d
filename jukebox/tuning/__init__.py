"""Hyperparameter search: a search space, an Optuna study whose trials are experiment runs,
and the background job that runs one. Uses monitoring and the layers below, never pipelines."""
