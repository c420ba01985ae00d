"""Home page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Home", "where the model's life stands: data, training, export, registry, deployment.")
