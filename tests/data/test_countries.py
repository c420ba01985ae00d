"""Country labels for people: a flag and a name, and codes that are no country left as they are."""

from __future__ import annotations

from jukebox.data.countries import country_label, flag_emoji


def test_flag_emoji():
    assert flag_emoji("de") == "🇩🇪"
    assert flag_emoji("output_3") == ""
    assert country_label("3") == "3"  # a model from elsewhere may number its outputs
