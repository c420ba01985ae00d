"""Embedded server speaking the Kubeflow Model Registry REST API."""
