"""Country codes and names, from pycountry (ISO 3166-1) rather than a hand-kept table."""

from __future__ import annotations

from functools import cache

import pycountry


@cache
def country_name(alpha2: str) -> str:
    """The common English name of an ISO 3166-1 alpha-2 code; the code itself if unknown."""
    country = pycountry.countries.get(alpha_2=alpha2.upper())
    if country is None:
        return alpha2
    return getattr(country, "common_name", None) or country.name


@cache
def alpha3(alpha2: str) -> str | None:
    """ISO alpha-3 code (what plotly's world map keys countries by), or None if unknown."""
    country = pycountry.countries.get(alpha_2=alpha2.upper())
    return country.alpha_3 if country else None


def is_country_code(code: object) -> bool:
    """True for a valid ISO 3166-1 alpha-2 code such as ``"DE"``."""
    return isinstance(code, str) and len(code) == 2 and alpha3(code) is not None


def flag_emoji(code: str) -> str:
    """The flag of an ISO alpha-2 code (``"DE"`` -> 🇩🇪); empty for anything else."""
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def country_label(code: str) -> str:
    """``"🇩🇪 Germany"``; a code that is no country (a foreign model's ``"3"``) stays as it is."""
    flag = flag_emoji(code)
    return f"{flag} {country_name(code)}" if flag else country_name(code)
