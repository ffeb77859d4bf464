"""Screen texts: every word comes from ussd.po in the session's language.

A USSD screen must fit 160 GSM-7 characters or some networks cut it. Templates are kept
short and GSM-7 (tests measure every screen in every language); variable values (place
names from the gazetteer) are converted to GSM-7 and shortened here.
"""

from __future__ import annotations

from gateway.kernel.envelopes import UssdScreen
from gateway.kernel.i18n import render
from gateway.kernel.segments import measure, to_gsm7
from gateway.kernel.taxonomy import Taxonomy
from gateway.ussd.state import MenuContext, MenuState, Place, Step

SCREEN_LIMIT = 160
NAME_LIMIT = 22  # a gazetteer name shown on its own line
PART_LIMIT = 18  # a village or commune name inside "village (commune)"
MAX_CANDIDATES = 5

# Language names are shown as their speakers write them, never translated.
LANGUAGES = (("1", "fr", "Francais"), ("2", "ha", "Hausa"), ("3", "dje", "Zarma"))
LANGUAGE_NAMES = {code: name for _, code, name in LANGUAGES}

# Why an answer was refused (msgids).
EMPTY_ANSWER = "Empty answer."
INVALID_CHOICE = "Invalid choice."
NO_PLACE = "No place found with that name."
NOT_A_NUMBER = "Type a number."
INVALID_CODE = "Invalid code."
NAME_TOO_LONG = "Name too long."
HELP = "To report: dial this code, choose 1. By SMS: INCIDENT PLACE NUMBER, e.g. ATTAQUE GABI 12. Help by SMS: AIDE"
# The reasons a list screen (incidents, "did you mean") can show: room for the longest is
# kept on every page so a re-prompt never pushes a list over the limit.
LIST_REASONS = (EMPTY_ANSWER, INVALID_CHOICE)


def fits(text: str) -> bool:
    info = measure(text)
    return info.encoding == "GSM-7" and info.units <= SCREEN_LIMIT


def shorten(name: str, limit: int = NAME_LIMIT) -> str:
    plain = " ".join(to_gsm7(name).split())
    return plain if len(plain) <= limit else plain[:limit - 1].rstrip() + "."


def place_label(place: Place) -> str:
    if place.village:
        return f"{shorten(place.village, PART_LIMIT)} ({shorten(place.name, PART_LIMIT)})"
    return shorten(place.name)


def _lines(*lines: str) -> str:
    return "\n".join(lines)


def _reason_reserve(lang: str) -> int:
    return max(len(render(lang, reason)) for reason in LIST_REASONS) + 1


def incident_pages(taxonomy: Taxonomy, lang: str) -> tuple[tuple[str, ...], ...]:
    """Incident lines ("3 vol de betail") split so each page, with a re-prompt reason,
    its title and the "0 More" line, fits one screen."""
    lines = [f"{incident.code} {to_gsm7(incident.label(lang))}" for incident in taxonomy.incidents]
    fixed = _reason_reserve(lang) + len(render(lang, "Which incident?")) + 1
    more = len(f"0 {render(lang, 'More')}") + 1
    if fixed + sum(len(line) + 1 for line in lines) - 1 <= SCREEN_LIMIT:
        return (tuple(lines),)
    pages: list[tuple[str, ...]] = []
    page: list[str] = []
    for line in lines:
        if page and fixed + sum(len(item) + 1 for item in page) + len(line) + more > SCREEN_LIMIT:
            pages.append(tuple(page))
            page = []
        page.append(line)
    pages.append(tuple(page))
    return tuple(pages)


def fitting_candidates(places: list[Place], lang: str) -> tuple[Place, ...]:
    """As many "did you mean" choices as fit one screen (at most MAX_CANDIDATES)."""
    used = (_reason_reserve(lang) + len(render(lang, "Did you mean:")) + 1
            + len(f"0 {render(lang, 'None of these')}"))
    chosen: list[Place] = []
    for number, place in enumerate(places[:MAX_CANDIDATES], start=1):
        line = len(_candidate_line(number, place, places)) + 1
        if used + line > SCREEN_LIMIT:
            break
        chosen.append(place)
        used += line
    return tuple(chosen)


def _candidate_line(number: int, place: Place, among: list[Place] | tuple[Place, ...]) -> str:
    label = place_label(place)
    if sum(1 for other in among if place_label(other) == label) > 1:
        label = f"{label} {place.pcode}"  # same name in two communes: the P-code tells them apart
    return f"{number} {label}"


REPORT, ACKNOWLEDGE, REGISTER, HELP_OPTION, LANGUAGE = (
    "Report an incident", "Acknowledge an alert", "Register", "Help", "Language")


def main_options(ctx: MenuContext) -> tuple[tuple[str, str], ...]:
    """(number, msgid) of the main menu, numbered 1, 2, 3... without gaps: acknowledging only for
    committee members, registering only for a number not registered yet."""
    offered = [REPORT, *([ACKNOWLEDGE] if ctx.is_committee_member else []),
               *([] if ctx.is_registered else [REGISTER]), HELP_OPTION, LANGUAGE]
    return tuple((str(number), msgid) for number, msgid in enumerate(offered, start=1))


def prompt(state: MenuState, ctx: MenuContext) -> UssdScreen:
    """The CON screen for a non-terminal state, with the refusal reason when re-prompting."""
    lang = state.lang or "fr"
    body = _PROMPTS[state.step](state, ctx, lang)
    if state.reason:
        body = _lines(render(lang, state.reason), body)
    return UssdScreen(body, final=False)


def _language_first(state: MenuState, ctx: MenuContext, lang: str) -> str:
    title = render("fr", "Choose a language (shown in every language)")
    return _lines(title, *(f"{number} {name}" for number, _, name in LANGUAGES))


def _language(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return _lines(render(lang, "Language"), *(f"{number} {name}" for number, _, name in LANGUAGES))


def _main(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return _lines(render(lang, "Early warning"),
                  *(f"{number} {render(lang, msgid)}" for number, msgid in main_options(ctx)))


def _incident(state: MenuState, ctx: MenuContext, lang: str) -> str:
    pages = incident_pages(ctx.taxonomy, lang)
    page = pages[state.page % len(pages)]
    more = (f"0 {render(lang, 'More')}",) if len(pages) > 1 else ()
    return _lines(render(lang, "Which incident?"), *page, *more)


def _place(state: MenuState, ctx: MenuContext, lang: str) -> str:
    home = ctx.home
    assert home is not None, "the place choice is only offered with a home commune"
    return _lines(render(lang, "Where?"),
                  f"1 {render(lang, 'My commune {name}', name=shorten(home.name))}",
                  f"2 {render(lang, 'Another commune or village')}")


def _place_name(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return render(lang, "Type the name of the commune or village:")


def _pick(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return _lines(render(lang, "Did you mean:"),
                  *(_candidate_line(number, place, state.candidates)
                    for number, place in enumerate(state.candidates, start=1)),
                  f"0 {render(lang, 'None of these')}")


def _count(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return render(lang, "How many (people, animals...)? 0 if unknown")


def _confirm(state: MenuState, ctx: MenuContext, lang: str) -> str:
    assert state.incident is not None and state.place is not None
    incident = to_gsm7(ctx.taxonomy.by_id(state.incident).label(lang))
    count = str(state.count) if state.count is not None else render(lang, "count unknown")
    return _lines(render(lang, "Send this report?"),
                  f"{incident} - {place_label(state.place)} - {count}",
                  f"1 {render(lang, 'Send')}",
                  f"2 {render(lang, 'Cancel')}")


def _register_commune(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return render(lang, "Type the name of your commune:")


def _register_name(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return render(lang, "Your name (0 to skip):")


def _ack_code(state: MenuState, ctx: MenuContext, lang: str) -> str:
    return render(lang, "Alert code?")


_PROMPTS = {
    Step.CHOOSE_LANGUAGE_FIRST: _language_first,
    Step.CHOOSE_LANGUAGE: _language,
    Step.MAIN: _main,
    Step.INCIDENT: _incident,
    Step.PLACE: _place,
    Step.PLACE_NAME: _place_name,
    Step.PLACE_PICK: _pick,
    Step.COUNT: _count,
    Step.CONFIRM: _confirm,
    Step.REGISTER_COMMUNE: _register_commune,
    Step.REGISTER_PICK: _pick,
    Step.REGISTER_NAME: _register_name,
    Step.ACK_CODE: _ack_code,
}


def final(lang: str | None, msgid: str, **values: object) -> UssdScreen:
    return UssdScreen(render(lang, msgid, **values), final=True)


def caller_text(text: str) -> UssdScreen:
    """A final screen from the caller's own text, made safe for one screen."""
    plain = "".join(ch for ch in to_gsm7(text) if fits(ch))
    while not fits(plain):
        plain = plain[:-1]
    return UssdScreen(plain, final=True)
