"""Embedded server speaking the Kubeflow Model Registry REST API, backed by SQLite.

``ensure_server(settings) -> url`` starts it on demand (or reuses the running one) and
``stop_server(settings)`` stops it; ``python -m jukebox registry serve`` runs it in the
foreground. The modules: ``resources`` (what each kind of resource holds), ``store`` (SQLite),
``filters`` (the ``filterQuery`` language), ``service`` (operations), ``errors`` (the API's error
answers), ``paths`` (the URL paths), ``app`` (HTTP routes), ``process`` (running it).
"""

from jukebox.registry.server.process import ensure_server, is_healthy, serve, stop_server

__all__ = ["ensure_server", "is_healthy", "serve", "stop_server"]
