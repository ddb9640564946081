"""The counterpart rules: who an event's actor interacts with. This table is the one source of truth;
docs/interactions.md lists it (:func:`rules_markdown` prints the markdown, a test keeps the two equal)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from networkpulse.events.gharchive import Authored, Login, Payload, RawEvent


@dataclass(frozen=True, slots=True)
class Rule:
    """One counterpart rule: events of ``event_types`` (``None``: every event with a repository) interact with
    the account found at ``field``."""

    kind: str
    event_types: tuple[str, ...] | None
    field: str
    note: str


#: In priority order: when one account is the counterpart under two rules of the same event, the interaction
#: is emitted once, with the first rule's kind (the specific kind says more than ``repo_owner``).
RULES: tuple[Rule, ...] = (
    Rule(
        "pr_author",
        ("PullRequestEvent", "PullRequestReviewCommentEvent", "PullRequestReviewEvent"),
        "payload.pull_request.user.login",
        "absent in 2011 payloads and in 2012–2014 review comments (repo owner only there)",
    ),
    Rule(
        "issue_author",
        ("IssuesEvent", "IssueCommentEvent"),
        "payload.issue.user.login",
        "2015+; before that `payload.issue` is a number (repo owner only)",
    ),
    Rule(
        "member_added",
        ("MemberEvent",),
        "payload.member.login, or payload.member (a string in 2011)",
        "every era",
    ),
    Rule(
        "followed",
        ("FollowEvent",),
        "payload.target.login",
        "2011–2014; FollowEvent has no repository (2011: `repo.name == \"/\"`)",
    ),
    Rule(
        "repo_owner",
        None,
        "repo.name before `/` (events API), repository.owner (2012–2014 timeline); when that names no owner: "
        "payload.repo before `/` (events API, 2011–2012), or the OWNER of the event's url "
        "`https://github.com/OWNER/NAME…` when NAME is repository.name (timeline, 2013–2014)",
        "the url is not used for ForkEvent (it names the new fork, the actor's) nor when it names another "
        "repository (downloads, gists); none for 2011 gists, follows and creates with `repo.name == \"/\"`",
    ),
)

REPO_OWNER = "repo_owner"


def _pr_author(p: Payload) -> str | None:
    pr = p.pull_request
    return pr.user.login if pr is not None and pr.user is not None else None


def _issue_author(p: Payload) -> str | None:
    issue = p.issue
    return issue.user.login if issue.__class__ is Authored and issue.user is not None else None  # type: ignore[union-attr]


def _member(p: Payload) -> str | None:
    m = p.member
    return m.login if m.__class__ is Login else m  # type: ignore[union-attr,return-value]


def _followed(p: Payload) -> str | None:
    return p.target.login if p.target is not None else None


_GETTERS: dict[str, Callable[[Payload], str | None]] = {
    "pr_author": _pr_author,
    "issue_author": _issue_author,
    "member_added": _member,
    "followed": _followed,
}

#: event type → (kind, getter) for the payload rule of that type; derived from :data:`RULES`.
PAYLOAD_RULES: dict[str, tuple[str, Callable[[Payload], str | None]]] = {
    event_type: (rule.kind, _GETTERS[rule.kind])
    for rule in RULES
    if rule.event_types is not None
    for event_type in rule.event_types
}

_TYPED = [t for r in RULES if r.event_types for t in r.event_types]
if len(_TYPED) != len(PAYLOAD_RULES) or RULES[-1].kind != REPO_OWNER:  # pragma: no cover
    # Guards edits of the table: one payload rule per event type, repo owner last (lowest priority).
    raise RuntimeError("venturi RULES: an event type has two payload rules, or repo_owner is not last")


#: An event url that names a repository: ``https://github.com/OWNER/NAME`` then the end, ``/``, ``?`` or ``#``.
_REPO_URL = re.compile(r"https?://github\.com/([^/?#\s]+)/([^/?#\s]+)(?:[/?#]|$)")


def _text(raw: msgspec.Raw) -> str | None:
    """A raw JSON field as a string, or None when it is absent (empty) or not a string."""
    if not raw:
        return None
    try:
        return msgspec.json.decode(raw, type=str)
    except msgspec.DecodeError:
        return None


def recovered_owner(ev: RawEvent) -> str | None:
    """The repository owner of an event whose ``repo.name`` / ``repository.owner`` names none, from the fallback
    fields of the ``repo_owner`` rule, or None where they do not name it unambiguously. Called only for such
    events (~4 % of 2011, ~0.6 % of 2013), so it may be slow: O(len(url))."""
    if ev.repo is not None:
        name = _text(ev.payload.repo) if ev.payload is not None else None
        cut = name.find("/") if name else -1
        return name[:cut] if cut > 0 else None
    repository = ev.repository
    if repository is None or ev.type == "ForkEvent":
        return None
    url, name = _text(ev.url), _text(repository.name)
    found = _REPO_URL.match(url) if url and name else None
    if found is None or found[2].lower() != name.lower():  # type: ignore[union-attr]
        return None
    return found[1]


def rules_markdown() -> str:
    """The rules as the markdown table docs/interactions.md shows."""
    rows = ["| priority | kind | event types | counterpart field | note |", "|---|---|---|---|---|"]
    for i, rule in enumerate(RULES, 1):
        types = ", ".join(rule.event_types) if rule.event_types else "every event with a repository"
        rows.append(f"| {i} | `{rule.kind}` | {types} | {rule.field} | {rule.note} |")
    return "\n".join(rows)
