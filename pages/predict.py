"""Predict page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Predict", "send a song and see on a map where it would chart.")
