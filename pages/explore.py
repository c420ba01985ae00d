"""Explore page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Explore", "explore the song data: distributions, correlations, countries on a map.")
