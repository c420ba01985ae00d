"""Asking a model about songs: which models there are to ask, one prediction, the same as curl.

A :class:`Target` is a model to ask (a deployment of the Deploy page, found by
:func:`deployment_targets`, or any Open Inference Protocol address) with what is known about it:
the training ranges and labels of the bundle it serves. :func:`predict` builds the request frame
once, scales it only for a model from elsewhere that expects scaled inputs, and hands it to the
v2 client (:mod:`jukebox.serving.client`), which speaks the protocol.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jukebox.config import Settings
from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import FEATURES
from jukebox.model.bundle import BundleError, read_bundle
from jukebox.serving.client import base_url, infer, model_path, rows_frame
from jukebox.serving.deploy import Deployment, list_deployments


@dataclass(frozen=True)
class Target:
    """A model to ask: server address, model name and version, and what is known about it.

    ``training`` holds the features' minima and maxima seen in training and ``labels`` the
    country codes in output order (both from the bundle's preprocessing.json, when known; an
    uploaded scaling also tells the training ranges). ``scaling`` is set only for models from
    elsewhere that expect min-max scaled inputs. ``auth`` says the server wants a bearer token;
    ``production`` that it serves its registered model's production version.
    """

    url: str
    model_name: str
    version: str | None = None
    token: str | None = field(default=None, repr=False)
    label: str = ""
    training: Preprocessing | None = None
    scaling: Preprocessing | None = None
    labels: tuple[str, ...] | None = None
    auth: bool = False
    production: bool = False
    bundle: str | None = None
    """The bundle directory a local deployment serves: what explanations of its answers read
    (its model and its training reference). None for a pasted address."""

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        version = f" v{self.version}" if self.version else ""
        return f"{self.model_name}{version}"

    @property
    def infer_url(self) -> str:
        return base_url(self.url) + model_path(self.model_name, self.version) + "/infer"


@dataclass(frozen=True)
class Prediction:
    """A model's answer for some songs: one probability per label (country code) for each
    song, and the exact JSON that went over the wire (the token is never part of it)."""

    target: Target
    probabilities: tuple[dict[str, float], ...]
    request: dict
    response: dict
    elapsed_ms: float
    notes: tuple[str, ...] = ()

    @property
    def infer_url(self) -> str:
        return self.target.infer_url

    @property
    def answered_by(self) -> str | None:
        """The version that answered, as the answer's OIP ``model_version`` says: behind a
        canary router a deployment's answers come from either of two versions."""
        version = self.response.get("model_version")
        return None if version is None else str(version)


def answered_by_sentence(prediction: Prediction) -> str | None:
    """``Answered by songs version 2.``; None when the server did not say."""
    version = prediction.answered_by
    if version is None:
        return None
    return f"Answered by {prediction.target.model_name} version {version}."


def predict(
    target: Target, songs: Sequence[Mapping[str, float]], timeout: float = 5.0
) -> Prediction:
    """Ask ``target`` about ``songs`` in one request of one row per song.

    Raises :class:`~jukebox.serving.client.ServingError` with a sentence a person can act on
    when the endpoint is dead, slow, wants a token or refuses the request.
    """
    rows = rows_frame(songs, FEATURES)
    if target.scaling is not None:
        rows = target.scaling.reordered(FEATURES).scale(rows)
    result = infer(
        target.url,
        target.model_name,
        rows,
        version=target.version,
        token=target.token,
        timeout=timeout,
        labels=target.labels,
    )
    probabilities = tuple(
        {str(code): float(p) for code, p in row.items()}
        for row in result.probabilities.to_dict(orient="records")
    )
    notes = list(result.notes)
    if result.labels_source == "indices":
        notes.append("The model did not say which country each output is, so outputs are numbered.")
    return Prediction(
        target, probabilities, result.request, result.response, result.elapsed_ms, tuple(notes)
    )


def curl_command(infer_url: str, request: Mapping, with_token: bool = False) -> str:
    """The same request from a terminal; a token is referred to as ``$TOKEN``, never written."""
    body = json.dumps(request, separators=(",", ":"))
    auth = ' -H "Authorization: Bearer $TOKEN"' if with_token else ""
    return f"curl -s -X POST {infer_url} -H 'Content-Type: application/json'{auth} -d '{body}'"


def deployment_targets(
    settings: Settings, production: Mapping[str, str] | None = None
) -> list[Target]:
    """Every deployment of the Deploy page that answers now, with its labels and training
    ranges read from the bundle it serves (so values outside training can be flagged).

    The deployment of a model's production version comes first, named in plain words ("the
    production model, version 1"), so it is what Predict asks unless told otherwise.
    ``production`` maps a registered model's name to its production version; when None it is
    read from the registry (and left empty when the registry cannot be reached).
    """
    deployments = [d for d in list_deployments(settings) if d.ready]
    if production is None:
        production = production_versions(settings, {d.model for d in deployments if d.model})
    targets = []
    for deployment in deployments:
        preprocessing = _served_preprocessing(deployment)
        is_production = bool(deployment.model) and production.get(deployment.model) == str(
            deployment.version
        )
        targets.append(
            Target(
                url=deployment.endpoint,
                model_name=deployment.name,
                token=settings.serving_token,
                label=deployment_title(deployment, is_production),
                training=preprocessing.reordered(FEATURES) if preprocessing else None,
                labels=preprocessing.labels if preprocessing else None,
                auth=deployment.auth,
                production=is_production,
                bundle=deployment.bundle or deployment.served_bundle,
            )
        )
    return sorted(targets, key=lambda t: not t.production)  # stable: the rest keep their order


def deployment_title(deployment: Deployment, production: bool = False) -> str:
    """How a person tells deployments apart: which version answers, in words (its web address
    is for those who need it, on the Deploy page; the deployment's name keeps titles apart)."""
    if deployment.model and production:
        return f"The production model, version {deployment.version} ({deployment.name})"
    if deployment.model:
        return f"{deployment.model} version {deployment.version} ({deployment.name})"
    return f"{deployment.name} · {deployment.source}"


def production_versions(settings: Settings, models: Iterable[str]) -> dict[str, str]:
    """The production version of each registered model in ``models`` that has one; models the
    registry cannot tell about (unreachable, unknown) are left out."""
    models = sorted(set(models))
    if not models:
        return {}
    from jukebox.errors import JukeboxError
    from jukebox.registry.versions import list_versions

    found = {}
    for model in models:
        try:
            versions = list_versions(model, settings)
        except JukeboxError:
            continue
        for version in versions:
            if version.production:
                found[model] = version.version
    return found


def _served_preprocessing(deployment: Deployment) -> Preprocessing | None:
    """The preprocessing.json of the bundle a local deployment serves: the deployment's own
    bundle directory, or the one its server job fetched from the registry (its status.json)."""
    bundle = deployment.bundle or deployment.served_bundle
    if not bundle:
        return None
    try:
        return read_bundle(bundle).preprocessing
    except BundleError:
        return None
