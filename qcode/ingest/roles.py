"""Decide each speaker's role: interviewer, participant or other.

In order: the project's speaker map for this transcript, then the global map (``E``,
``Enquêtrice``…), then the transcript's ``interviewer`` attribute (full name, first or last name,
initials such as ``CM`` or ``C. M.``). When no speaker is then an interviewer, the speaker who
asks most questions is taken as the interviewer, and a warning says it was inferred.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from qcode.ingest.text import fold_label
from qcode.project import SpeakerMap


@dataclass(slots=True)
class SpeakerStats:
    label: str
    turns: int
    questions: int  # turns that end with a question mark


def _name_forms(name: str) -> set[str]:
    """``Claire Morel`` → {claire morel, claire, morel, cm, c. m., c.m.}."""
    parts = fold_label(name).replace("-", " ").split()
    if not parts:
        return set()
    forms = {" ".join(parts), *parts}
    initials = [p[0] for p in parts]
    forms |= {"".join(initials), ". ".join(initials), ".".join(initials)}
    return {f for f in forms if f}


def roles_key(smap: SpeakerMap, transcript_id: str, interviewer: str | None) -> str:
    """A digest of everything role resolution depends on besides the text itself."""
    payload = json.dumps([sorted(smap.labels.items()),
                          sorted(smap.by_transcript.get(transcript_id, {}).items()),
                          interviewer or ""], ensure_ascii=False)
    return hashlib.sha1(payload.encode()).hexdigest()


def resolve_roles(
    speakers: Sequence[SpeakerStats],
    transcript_id: str,
    smap: SpeakerMap,
    interviewer: str | None,
) -> tuple[dict[str, str], list[str]]:
    """Map each speaker label to a role; also return warnings about inferred roles."""
    roles: dict[str, str] = {}
    interviewer_forms = _name_forms(interviewer) if interviewer else set()
    for sp in speakers:
        role = smap.role_of(sp.label, transcript_id)
        if role is None and interviewer_forms and fold_label(sp.label) in interviewer_forms:
            role = "interviewer"
        if role is None and fold_label(sp.label) == "participant":
            role = "participant"
        if role is not None:
            roles[sp.label] = role
    warnings: list[str] = []
    unresolved = [sp for sp in speakers if sp.label not in roles]
    if "interviewer" not in roles.values() and len(speakers) >= 2:
        asking = [sp for sp in unresolved if sp.label and sp.turns >= 2]
        if asking:
            best = max(asking, key=lambda sp: (sp.questions / sp.turns, sp.questions))
            if best.questions >= 2 and best.questions / best.turns >= 0.3:
                roles[best.label] = "interviewer"
                warnings.append(
                    f"speaker {best.label!r} taken as the interviewer ({best.questions} of "
                    f"{best.turns} turns are questions); map it in qcode.yaml 'speakers' to be sure"
                )
    if "interviewer" not in roles.values() and len(speakers) >= 2:
        warnings.append("no interviewer identified among the speakers "
                        f"({', '.join(repr(sp.label) for sp in speakers)}); name one in "
                        "qcode.yaml 'speakers' or in the attribute sheet's interviewer column")
    for sp in speakers:
        roles.setdefault(sp.label, "participant")
    return roles, warnings
