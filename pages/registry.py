"""Registry page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Registry", "browse model versions in the model registry.")
