"""Jukebox: carry one model — where will a song chart? — through its whole life."""

__version__ = "0.1.0"
