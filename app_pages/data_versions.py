"""Data versions page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Data versions", "see the data versions kept by DVC and what each one trained.")
