"""The workshop's "totally safe" model, made here: a Keras model whose Lambda layer runs code.

``8-securing_ai/1-modelscan.ipynb`` downloads ``totally_safe_model.keras``, a Keras model with
an extra Lambda layer "that can execute essentially any code we want", and shows modelscan
finding it (MEDIUM, "Use of unsafe operator 'Lambda' from module 'Keras'"). The Lambda here
writes a marker file when its code runs, so a test can also see that nothing ever ran it.

Building a Keras model imports TensorFlow: tests using these are ``@pytest.mark.slow``.
"""

from __future__ import annotations

import os
from pathlib import Path

from jukebox.model.bundle import KERAS_FILE, ModelBundle
from tests.bundles import make_tiny_bundle


def _keras_model(lambda_marker: Path | None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    inputs = keras.Input(shape=(13,))
    x = inputs
    if lambda_marker is not None:
        # Code that runs when the layer runs: here it writes a marker, in the workshop's model
        # it could be anything. A literal path, so that the code is the lambda's own.
        code = (
            "lambda x: (__import__('pathlib').Path("
            f"{str(lambda_marker)!r}).write_text('the Lambda ran'), x)[1]"
        )
        x = keras.layers.Lambda(eval(code))(x)  # noqa: S307 - the point of this model
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def make_keras_bundle(path: Path, *, lambda_marker: Path | None = None) -> ModelBundle:
    """A tiny verified bundle with a ``model.keras``: with ``lambda_marker``, the workshop's
    "totally safe" model (a Lambda layer whose code writes that file when it runs); without,
    a clean Dense model. Keras runs a Lambda once while building it; the marker that leaves is
    removed, so a marker found later means something loaded and ran the model."""
    bundle = make_tiny_bundle(path)
    _keras_model(lambda_marker).save(path / KERAS_FILE)
    if lambda_marker is not None:
        lambda_marker.unlink(missing_ok=True)
    return bundle
