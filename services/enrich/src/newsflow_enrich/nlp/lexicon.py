"""Small curated word lists the NLP rules use: roles and titles, speech verbs, pronouns."""

from __future__ import annotations

# Nouns and titles that name a person's role: "Governor X", "X, a senior lawmaker".
ROLE_WORDS: frozenset[str] = frozenset(
    """
    president vice-president president-elect premier chancellor minister secretary governor
    mayor senator sen. congressman congresswoman representative rep. lawmaker legislator mp
    deputy spokesman spokeswoman spokesperson adviser advisor aide chief director chairman
    chairwoman chairperson ceo cfo coo cto founder co-founder executive king queen prince
    princess pope gen. colonel col. lieutenant lt. captain capt. sergeant sgt. commander
    admiral ambassador envoy diplomat judge justice attorney lawyer prosecutor officer official
    analyst economist strategist professor prof. dr. doctor coach manager striker midfielder
    defender goalkeeper winger forward player mr. mrs. ms. sir dame lord archbishop bishop
    rev. commissioner inspector detective sheriff leader researcher scientist journalist
    reporter correspondent editor activist candidate nominee incumbent rapper singer actor
    actress boss owner treasurer partner investor trader chairwoman dean rector superintendent
    councillor councilor councilman councilwoman alderman speaker whip general-secretary
    secretary-general head organiser organizer campaigner champion mediator
    pilot nurse teacher student farmer worker driver resident veteran chef artist designer
    photographer architect engineer surgeon novelist poet historian
    """.split()
)

# Words that may precede a role word inside a title run: "Deputy Prime Minister", "Head Coach".
ROLE_MODIFIERS: frozenset[str] = frozenset(
    """
    prime foreign defence defense finance interior health education justice trade economy
    economic energy home state senior junior former acting interim deputy vice chief executive
    general assistant associate managing national regional presidential military intelligence
    press first head lead top opposition party
    """.split()
)

# Words that make a name an organisation: "Defence Ministry", "Bohun Brigade".
ORG_WORDS: frozenset[str] = frozenset(
    """
    ministry department council party brigade command committee commission agency
    directorate office bureau service services army navy forces force police court parliament
    senate congress assembly inc inc. corp corp. corporation ltd ltd. plc llc co co. company
    group bank fund university college school institute foundation association federation
    union league club fc united airlines motors television tv news times post journal press
    radio network authority board government administration cabinet guard regiment battalion
    division corps reserve exchange holdings partners capital technologies systems ventures
    securities semiconductor semiconductors markets foods research labs laboratories pharma
    pharmaceuticals energy motors airways institute organization organisation hospital
    infirmary clinic
    """.split()
)

# Words that make a name a place: "Dnipro river", "Kharkiv region".
PLACE_WORDS: frozenset[str] = frozenset(
    """
    river sea ocean lake mountains mountain valley region bay gulf peninsula island islands
    desert strait coast basin
    """.split()
)

# Common nouns that name a kind of organisation: "the newspaper X", "X, the start-up".
ORG_NOUNS: frozenset[str] = frozenset(
    """
    company firm start-up startup maker manufacturer carrier airline retailer grocer chain
    newspaper broadcaster magazine publisher network channel insurer lender bank operator
    group conglomerate club team side outfit union charity agency regulator watchdog
    automaker carmaker drugmaker chipmaker developer supplier distributor
    """.split()
)

# "mayor of X", "west of X": nouns after which "of X" names a place.
# Last words of place names: "King County", "Queens Borough", "Prince Edward Island".
PLACE_HEADS: frozenset[str] = frozenset(
    """
    county borough district province state city town island street road avenue square park
    bridge station airport
    """.split()
)

PLACE_OF_WORDS: frozenset[str] = frozenset(
    """
    mayor governor capital city town village outskirts centre center north south east west
    northeast northwest southeast southwest people residents citizens suburbs region province
    """.split()
)

# Prepositions before a name that mark it as a place ("in Kherson", "near Bakhmut").
PLACE_PREPOSITIONS: frozenset[str] = frozenset(
    "in near across outside inside around into throughout towards toward".split()
)

_SPEECH_BASES = """
say tell add state note claim declare maintain affirm emphasise emphasize warn explain ask
reply insist argue write tweet post reason disclose reveal confirm admit acknowledge point
continue recall concede suggest announce urge predict joke quip describe stress observe
remark comment mention counter deny vow promise assert contend allege report testify
complain lament caution answer respond call conclude agree estimate insist underline highlight
""".split()

_IRREGULAR = {
    "say": ("said", "says", "saying"),
    "tell": ("told", "tells", "telling"),
    "write": ("wrote", "writes", "writing", "written"),
}


def _forms(base: str) -> set[str]:
    if base in _IRREGULAR:
        return {base, *_IRREGULAR[base]}
    if base.endswith("e"):
        stem = base[:-1]
        return {base, base + "s", base + "d", stem + "ing"}
    if base.endswith("y") and base[-2] not in "aeiou":
        stem = base[:-1]
        return {base, stem + "ies", stem + "ied", base + "ing"}
    if base in {"quip", "admit"}:
        return {base, base + "s", base + base[-1] + "ed", base + base[-1] + "ing"}
    return {base, base + "s", base + "ed", base + "ing"}


# Verb forms that introduce speech ("said", "adding", "warned").
SPEECH_VERBS: frozenset[str] = frozenset(f for b in _SPEECH_BASES for f in _forms(b))

PERSON_PRONOUNS: frozenset[str] = frozenset({"he", "she", "him", "her"})
GROUP_PRONOUNS: frozenset[str] = frozenset({"they", "them", "it", "we"})

# Nouns that name an unnamed speaker ("the source added", "an official said").
UNNAMED_SPEAKERS: frozenset[str] = frozenset(
    """
    source sources official officials witness witnesses resident residents person people
    spokesman spokeswoman spokesperson analyst analysts expert experts observer observers
    insider insiders diplomat diplomats aide aides officer officers executive executives
    employee employees worker workers fan fans supporter supporters critic critics
    """.split()
)


def is_role(word: str) -> bool:
    return word.lower() in ROLE_WORDS
