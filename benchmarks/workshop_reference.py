"""The workshop's way of training, reproduced as the baseline for ``bench_training.py``.

What the workshop's notebook does, on the same prepared split as ours:

- features scaled beforehand with the training split's min-max scaler (outside the model);
- one ``tf.data.Dataset`` per feature column, zipped together (as a dict of named inputs) and with
  the one-hot labels;
- shuffled with a buffer as large as the training set, batches of 32;
- the same network (one input per feature, concatenated, dense 32-64-128-256 ReLU, softmax);
- Adam (default learning rate), categorical cross-entropy, ``model.fit`` with validation data
  built the same way.

Run alone for a quick look: ``python benchmarks/workshop_reference.py --songs 2000 --epochs 1``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jukebox.data.preparation import Prepared  # noqa: E402


def _scaled(prepared: Prepared, x: np.ndarray) -> np.ndarray:
    minima = np.asarray(prepared.minima, dtype=np.float32)
    spans = np.asarray(prepared.maxima, dtype=np.float32) - minima
    spans[spans == 0] = 1.0
    return ((x - minima) / spans).astype(np.float32)


def _zipped_dataset(prepared: Prepared, x: np.ndarray, y_onehot: np.ndarray, shuffle: bool):
    import tensorflow as tf

    columns = {
        name: tf.data.Dataset.from_tensor_slices(x[:, i : i + 1])
        for i, name in enumerate(prepared.features)
    }
    labels = tf.data.Dataset.from_tensor_slices(y_onehot)
    dataset = tf.data.Dataset.zip((columns, labels))
    if shuffle:
        dataset = dataset.shuffle(buffer_size=len(x))
    return dataset.batch(32)


def workshop_model(prepared: Prepared):
    import keras

    inputs = [keras.Input(shape=(1,), name=name) for name in prepared.features]
    x = keras.layers.Concatenate()(inputs)
    for units in (32, 64, 128, 256):
        x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(prepared.n_classes, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train_workshop_way(prepared: Prepared, epochs: int = 2, seed: int = 42) -> dict:
    """Train the workshop's way; returns seconds of ``fit``, test accuracy and the history."""
    import keras

    keras.utils.set_random_seed(seed)
    n = prepared.n_classes
    x_train, x_val = _scaled(prepared, prepared.x_train), _scaled(prepared, prepared.x_val)
    y_train = keras.utils.to_categorical(prepared.y_train, n).astype(np.float32)
    y_val = keras.utils.to_categorical(prepared.y_val, n).astype(np.float32)
    train = _zipped_dataset(prepared, x_train, y_train, shuffle=True)
    validation = _zipped_dataset(prepared, x_val, y_val, shuffle=False)
    model = workshop_model(prepared)
    started = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=epochs, verbose=2)
    seconds = time.perf_counter() - started
    x_test = _scaled(prepared, prepared.x_test)
    probabilities = model.predict(prepared.inputs(x_test), batch_size=8192, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == prepared.y_test))
    return {"seconds": seconds, "test_accuracy": accuracy, "history": history.history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    from jukebox.data.merge import merge_tables
    from jukebox.data.preparation import prepare
    from jukebox.data.synthetic import generate

    data = generate(args.songs, 0)
    prepared = prepare(merge_tables(data.properties, data.rankings), seed=42)
    result = train_workshop_way(prepared, args.epochs)
    print(f"workshop way: {result['seconds']:.1f} s, test accuracy {result['test_accuracy']:.4f}")


if __name__ == "__main__":
    main()
