"""Explanations of one model's predictions, for people who never heard of SHAP.

- :mod:`.predictor`: the model as a batched function of songs (:class:`Predictor`).
- :mod:`.attributions`: why: each feature's share of one song's probability for a country.
- :mod:`.counterfactuals`: what if: the smallest realistic change that reaches a probability.
- :mod:`.importance`: what each country listens for: mean attributions over many songs.
- :mod:`.words`: the three above as sentences in the dials' plain words.
- :mod:`.songs`: finding the song a person names.

Everything here is a pure function of a predictor and data frames; nothing reads or writes
directories except :func:`.predictor.predictor_from_bundle` and
:func:`.predictor.bundle_reference`, which read a bundle.
"""
