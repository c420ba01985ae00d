"""The features in a person's words: which way is "more", and a raw value in its real unit.

Shared vocabulary of every part that talks about features to a stakeholder (explanations,
drift sentences, the Predict page's dials): it lives here, below them all, so that "slower" and
"120 BPM" are said the same way everywhere.
"""

from __future__ import annotations

KEY_NAMES: dict[int, str] = {
    -1: "no clear key",
    0: "C",
    1: "C♯/D♭",
    2: "D",
    3: "D♯/E♭",
    4: "E",
    5: "F",
    6: "F♯/G♭",
    7: "G",
    8: "G♯/A♭",
    9: "A",
    10: "A♯/B♭",
    11: "B",
}
"""Spotify's key numbers (pitch classes; -1 when no key was detected) as note names."""

DIRECTIONS: dict[str, tuple[str, str]] = {
    "is_explicit": ("less often explicit", "more often explicit"),
    "duration_ms": ("shorter", "longer"),
    "danceability": ("less danceable", "more danceable"),
    "energy": ("calmer", "more energetic"),
    "key": ("in lower keys", "in higher keys"),
    "loudness": ("quieter", "louder"),
    "mode": ("more often in a minor key", "more often in a major key"),
    "speechiness": ("less talky", "more talky"),
    "acousticness": ("more electronic", "more acoustic"),
    "instrumentalness": ("more sung", "more instrumental"),
    "liveness": ("more studio-like", "more live-sounding"),
    "valence": ("sadder", "happier"),
    "tempo": ("slower", "faster"),
}
"""For each feature, what a lower and a higher value sound like (of many songs: "more often")."""

NOUNS: dict[str, str] = {
    "is_explicit": "explicit lyrics",
    "duration_ms": "length",
    "danceability": "danceability",
    "energy": "energy",
    "key": "key",
    "loudness": "loudness",
    "mode": "major or minor key",
    "speechiness": "spoken words",
    "acousticness": "acoustic sound",
    "instrumentalness": "instrumental sound",
    "liveness": "live sound",
    "valence": "happiness",
    "tempo": "tempo",
}
"""What each feature is called in a sentence ("its high danceability")."""

UNITS: dict[str, str] = {
    "is_explicit": "yes/no",
    "duration_ms": "m:ss",
    "key": "key",
    "mode": "mode",
    "loudness": "dB",
    "tempo": "BPM",
}
"""How a raw value is shown; every feature not listed is a 0–1 share shown in percent."""


def say_value(feature: str, raw: float) -> str:
    """A raw value in its real unit: ``"45 %"``, ``"3:05"``, ``"-6.6 dB"``, ``"120 BPM"``,
    ``"G"``, ``"minor"``, ``"yes"``."""
    unit = UNITS.get(feature, "%")
    raw = float(raw)
    if unit == "%":
        return f"{round(raw * 100):.0f} %"
    if unit == "m:ss":
        total = int(round(raw / 1000))
        return f"{total // 60}:{total % 60:02d}"
    if unit == "dB":
        return f"{raw:.1f} dB"
    if unit == "BPM":
        return f"{round(raw):.0f} BPM"
    if unit == "key":
        return KEY_NAMES.get(int(round(raw)), KEY_NAMES[-1])
    if unit == "mode":
        return "major" if round(raw) == 1 else "minor"
    return "yes" if round(raw) == 1 else "no"
