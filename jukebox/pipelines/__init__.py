"""The training pipeline on Kubeflow Pipelines: its components, local and remote runs, records."""
