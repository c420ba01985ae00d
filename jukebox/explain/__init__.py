"""Explanations of one model's predictions, for people who never heard of SHAP.

- :mod:`.predictor`: the model as a batched function of songs (:class:`Predictor`).
- :mod:`.attributions`: why: each feature's share of one song's probability for a country.
- :mod:`.counterfactuals`: what if: the smallest realistic change that reaches a probability.
- :mod:`.importance`: what each country listens for: mean attributions over many songs.
- :mod:`.words`: the three above as sentences in the dials' plain words.
- :mod:`.songs`: finding the song a person names.

Everything here is a pure function of a predictor and data frames; nothing reads or writes
directories except :func:`predictor_from_bundle` and :func:`bundle_reference`, which read a
bundle. The names below are the stable API; import them from ``jukebox.explain``::

    predict = predictor_from_bundle(bundle_dir)
    reference = bundle_reference(bundle_dir)
    why = explain_song(predict, song, reference)          # top 5 countries
    print(why_headline(why[0]), *why_sentences(why[0]))
    cf = find_counterfactual(predict, song, "TR", 0.3, reference)
    print(what_if_sentence(cf))
"""

from jukebox.explain.attributions import (
    BACKGROUND_ROWS,
    Attribution,
    background_sample,
    explain_song,
    shapley_values,
)
from jukebox.explain.counterfactuals import (
    DEFAULT_ALLOWED,
    Counterfactual,
    FeatureRange,
    find_counterfactual,
    realistic_ranges,
)
from jukebox.explain.importance import global_importance
from jukebox.explain.predictor import (
    ExplainError,
    Predictor,
    bundle_reference,
    predictor_from_bundle,
    predictor_from_model,
)
from jukebox.explain.songs import find_song
from jukebox.explain.words import (
    change_phrase,
    contribution_sentence,
    what_if_sentence,
    why_headline,
    why_sentences,
    why_table,
)

__all__ = [
    "BACKGROUND_ROWS",
    "DEFAULT_ALLOWED",
    "Attribution",
    "Counterfactual",
    "ExplainError",
    "FeatureRange",
    "Predictor",
    "background_sample",
    "bundle_reference",
    "change_phrase",
    "contribution_sentence",
    "explain_song",
    "find_counterfactual",
    "find_song",
    "global_importance",
    "predictor_from_bundle",
    "predictor_from_model",
    "realistic_ranges",
    "shapley_values",
    "what_if_sentence",
    "why_headline",
    "why_sentences",
    "why_table",
]
