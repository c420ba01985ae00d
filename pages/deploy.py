"""Deploy page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Deploy", "deploy a registered version behind the Open Inference Protocol.")
