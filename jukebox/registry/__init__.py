"""The model registry as pages, the CLI and pipelines use it: a few plain functions.

Each module has one job; callers import from the one that does theirs:

- ``connection``: the registry's address, a quick probe, the official client, its errors;
- ``versions``: registered models and versions (:class:`VersionInfo`), lifecycle changes;
- ``register``: checking and registering an exported bundle, undoing a failed registration;
- ``fetch``: downloading a registered version's bundle and reading its model card;
- ``bundles``: a bundle's layout in object storage (names, manifest, upload, download);
- ``properties``: the names of what a version records;
- ``official_api``: the only calls past the official client's public methods;
- ``errors``: what a user can fix; ``server/``: the embedded registry.
"""
