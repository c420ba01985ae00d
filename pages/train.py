"""Train page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Train", "train and evaluate the Keras model with live progress.")
