"""Watching a deployed model: the payload log, drift metrics, and an embedded service that speaks
the TrustyAI service's REST API (``/data/upload``, ``/metrics/drift/meanshift``, ``/info``,
Prometheus exposition at ``/q/metrics``), so notebook code written for TrustyAI runs unchanged
against it. With ``TRUSTYAI_URL`` set, Jukebox talks to the real service instead.
"""
