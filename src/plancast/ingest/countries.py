"""Country spellings, to say when one file writes one country several ways.

An explicit table, not a fuzzy match and not exhaustive: a country that is not
listed is simply not checked. Values are compared ignoring case. Accounts keep
the country as written (an assignment rule on country matches the text), so
the import only *warns*:

* when the country column spells one country several ways (Salesforce's demo
  org: ``US`` and ``USA``), since a rule must then list each spelling;
* when the state column holds a country name (``UK``, ``Singapore``), since
  rules on country do not see it there.

For the state column only names and unambiguous abbreviations count, never
two- or three-letter ISO codes (``CA``, ``IN``, ``GA`` … are states too), and
not the names that are also states or provinces (Georgia, México, Luxembourg,
Panamá, Guatemala).
"""

from __future__ import annotations

#: country -> (ISO 3166 alpha-2, alpha-3, other spellings …)
_TABLE: dict[str, tuple[str, ...]] = {
    "United States": ("US", "USA", "United States of America", "U.S.", "U.S.A.", "America"),
    "United Kingdom": ("GB", "GBR", "UK", "U.K.", "Great Britain", "Britain"),
    "Canada": ("CA", "CAN"),
    "Mexico": ("MX", "MEX", "México"),
    "Brazil": ("BR", "BRA", "Brasil"),
    "Argentina": ("AR", "ARG"),
    "Chile": ("CL", "CHL"),
    "Colombia": ("CO", "COL"),
    "Peru": ("PE", "PER", "Perú"),
    "Panama": ("PA", "PAN", "Panamá"),
    "Guatemala": ("GT", "GTM"),
    "Costa Rica": ("CR", "CRI"),
    "France": ("FR", "FRA"),
    "Germany": ("DE", "DEU", "Deutschland"),
    "Netherlands": ("NL", "NLD", "The Netherlands", "Holland"),
    "Belgium": ("BE", "BEL"),
    "Luxembourg": ("LU", "LUX"),
    "Switzerland": ("CH", "CHE", "Schweiz", "Suisse"),
    "Austria": ("AT", "AUT", "Österreich"),
    "Italy": ("IT", "ITA", "Italia"),
    "Spain": ("ES", "ESP", "España"),
    "Portugal": ("PT", "PRT"),
    "Ireland": ("IE", "IRL", "Republic of Ireland"),
    "Denmark": ("DK", "DNK"),
    "Norway": ("NO", "NOR"),
    "Sweden": ("SE", "SWE"),
    "Finland": ("FI", "FIN"),
    "Iceland": ("IS", "ISL"),
    "Poland": ("PL", "POL"),
    "Czechia": ("CZ", "CZE", "Czech Republic"),
    "Slovakia": ("SK", "SVK"),
    "Hungary": ("HU", "HUN"),
    "Romania": ("RO", "ROU"),
    "Bulgaria": ("BG", "BGR"),
    "Greece": ("GR", "GRC"),
    "Turkey": ("TR", "TUR", "Türkiye"),
    "Russia": ("RU", "RUS", "Russian Federation"),
    "Ukraine": ("UA", "UKR"),
    "Georgia": ("GE", "GEO"),
    "Israel": ("IL", "ISR"),
    "Jordan": ("JO", "JOR"),
    "Saudi Arabia": ("SA", "SAU"),
    "United Arab Emirates": ("AE", "ARE", "UAE", "U.A.E."),
    "Qatar": ("QA", "QAT"),
    "Egypt": ("EG", "EGY"),
    "South Africa": ("ZA", "ZAF"),
    "Nigeria": ("NG", "NGA"),
    "Kenya": ("KE", "KEN"),
    "Morocco": ("MA", "MAR"),
    "India": ("IN", "IND"),
    "Pakistan": ("PK", "PAK"),
    "Bangladesh": ("BD", "BGD"),
    "China": ("CN", "CHN", "People's Republic of China", "PRC"),
    "Hong Kong": ("HK", "HKG"),
    "Taiwan": ("TW", "TWN"),
    "Japan": ("JP", "JPN"),
    "South Korea": ("KR", "KOR", "Korea", "Republic of Korea", "Korea, Republic of"),
    "Singapore": ("SG", "SGP"),
    "Malaysia": ("MY", "MYS"),
    "Indonesia": ("ID", "IDN"),
    "Thailand": ("TH", "THA"),
    "Vietnam": ("VN", "VNM", "Viet Nam"),
    "Philippines": ("PH", "PHL"),
    "Australia": ("AU", "AUS"),
    "New Zealand": ("NZ", "NZL"),
}

#: names that are also a state or province somewhere: not read as a country in a state column
_ALSO_STATES = {"georgia", "mexico", "méxico", "luxembourg", "panama", "panamá", "guatemala"}


def _spellings() -> dict[str, str]:
    out: dict[str, str] = {}
    for country, others in _TABLE.items():
        for spelling in (country, *others):
            out[spelling.casefold()] = country
    return out


def _in_state() -> dict[str, str]:
    out: dict[str, str] = {}
    for country, others in _TABLE.items():
        codes = {others[0].casefold(), others[1].casefold()}  # ISO alpha-2 and alpha-3
        for spelling in (country, *others[2:]):
            key = spelling.casefold()
            # a short all-capitals abbreviation that is not an ISO code (UK, USA, UAE) is unambiguous enough
            if key in codes or key in _ALSO_STATES:
                continue
            out[key] = country
    out["usa"] = "United States"  # also the ISO alpha-3 code, but no state is written so
    return out


#: any spelling (case-folded) -> the country
SPELLINGS: dict[str, str] = _spellings()
#: spellings (case-folded) that, in a state column, are a country rather than a state
IN_STATE: dict[str, str] = _in_state()
