"""Pipelines page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Pipelines", "run the training and data pipelines on Kubeflow Pipelines.")
