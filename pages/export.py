"""Export page — not built yet."""

from jukebox.ui.coming import coming_soon

coming_soon("Export", "export a trained model to ONNX and prove the export matches.")
