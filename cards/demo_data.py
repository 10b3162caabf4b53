"""Hand-made view models for every card kind: the demo (``pli-pulse cards``), the PNG snapshots and the tests.

Scenarios: normal figures, everything suppressed (9 students), an empty class, a community of 65 teachers. Every
function takes the free text it puts into a card as arguments, so tests can swap in hostile text (200-character
titles, RTL, emoji, markdown/HTML/<at> injection) everywhere at once through :func:`demo_views`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cards.views import (
    ActivityBand,
    ClassSummaryView,
    CommunityChoice,
    CommunityDigestView,
    Comparison,
    DigestClassRow,
    ErrorView,
    ExemplarFormView,
    ExemplarSearchView,
    ExemplarView,
    ImageRef,
    PrivateClassLine,
    PrivateDigestSection,
    TabLink,
    TeacherRef,
    ToolUse,
    WelcomeView,
)
from measures.figures import Figure, Suppression

DEMO_APP_ID = "5f0c8a8e-2b7d-4c61-9a43-3c1d2e4f6a70"
DEMO_TAB_ENTITY = "pli-pulse-dashboard"
DEMO_BASE_URL = "https://pli-pulse.example.org"
DEMO_IMAGE_KEY = b"demo-only card image signing key"
#: Fixed so demo cards (and their snapshots) do not change from run to run.
DEMO_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PERIOD = "Week of 16 Nov 2026"
SUPPRESSED_N = 9  # a class too small to show: every figure over it is suppressed
NORMAL_N = 26


def fig(value: float | None, n: int = NORMAL_N) -> Figure:
    return Figure.of(value, n)


def cmp(now: float | None, last: float | None = None, median: float | None = None, n: int = NORMAL_N) -> Comparison:
    return Comparison(
        fig(now, n),
        fig(last, n) if last is not None or n < 10 else None,
        fig(median, 24) if median is not None else None,
    )


def sparkline_points(n: int = NORMAL_N) -> tuple[Figure, ...]:
    return tuple(fig(v, n) for v in (0.42, 0.5, 0.47, 0.55, 0.61, 0.58, 0.66, 0.73))


def sparkline_ref(class_id: str, alt_text: str) -> ImageRef:
    from cards.signed_urls import signed_url

    url = signed_url(
        DEMO_BASE_URL, DEMO_IMAGE_KEY, f"/cards/img/sparkline/{class_id}/fa_reach.png", DEMO_NOW + timedelta(hours=24)
    )
    return ImageRef(url, alt_text)


def class_summary_view(scenario: str = "normal", class_name: str = "Algebra 1 · Period 3") -> ClassSummaryView:
    link = TabLink(DEMO_APP_ID, DEMO_TAB_ENTITY, "class:alg1-p3")
    if scenario == "normal":
        return ClassSummaryView(
            class_id="alg1-p3",
            class_name=class_name,
            period_label=PERIOD,
            enrolled=NORMAL_N,
            fa_reach=cmp(0.73, 0.66, 0.64),
            fa_monthly_reach=cmp(0.54, 0.55, 0.48),
            feedback_turnaround=cmp(18.0, 26.0, 22.0),
            participation=cmp(0.62, 0.58, 0.66),
            peer_reach=cmp(0.31, 0.35, 0.45),
            tools=(
                ToolUse("teams", fig(0.85), fig(3.4), fig(2.9)),
                ToolUse("assignments", fig(0.92), fig(2.1), fig(1.9)),
                ToolUse("forms", fig(0.69), fig(1.6), fig(1.1)),
                # OneNote needs a delegated sign-in; with too few students using it, the days are suppressed.
                ToolUse("onenote", fig(0.19), fig(None, SUPPRESSED_N), fig(0.3)),
            ),
            teacher_share=fig(0.68),
            centralization=fig(0.41),
            dashboard=link,
            sparkline=sparkline_ref("alg1-p3", "FA reach over the last 8 weeks: from 42% up to 73%"),
        )
    if scenario == "suppressed":
        n = SUPPRESSED_N
        return ClassSummaryView(
            class_id="art-club",
            class_name=class_name,
            period_label=PERIOD,
            enrolled=n,
            fa_reach=cmp(0.71, 0.57, 0.64, n=n),
            fa_monthly_reach=cmp(0.43, 0.43, 0.48, n=n),
            feedback_turnaround=cmp(5.0, 9.0, 22.0, n=n),
            participation=cmp(0.86, 0.71, 0.66, n=n),
            peer_reach=cmp(0.29, 0.14, 0.45, n=n),
            tools=tuple(
                ToolUse(t, fig(0.57, n), fig(2.0, n), fig(1.0, n)) for t in ("teams", "assignments", "forms", "onenote")
            ),
            teacher_share=fig(0.43, n),
            centralization=fig(0.29, n),
            dashboard=link,
            sparkline=None,  # no trend image for a class whose every week is suppressed
        )
    if scenario == "empty":
        nothing = Comparison(fig(None, 0))
        return ClassSummaryView(
            class_id="new-class",
            class_name=class_name,
            period_label=PERIOD,
            enrolled=0,
            fa_reach=nothing,
            fa_monthly_reach=nothing,
            feedback_turnaround=nothing,
            participation=nothing,
            peer_reach=nothing,
            tools=(),
            teacher_share=fig(None, 0),
            centralization=fig(None, 0),
            dashboard=link,
        )
    raise ValueError(f"unknown scenario {scenario!r}")


def exemplar_view(
    title: str = "Exit-ticket quiz with instant feedback",
    text: str | None = None,
    exemplar_id: str = "ex-0042",
    practice: str = "peer_collaboration",
    votes: int = 14,
) -> ExemplarView:
    return ExemplarView(
        exemplar_id=exemplar_id,
        title=title,
        description=text
        or "A five-question Forms quiz at the end of class. Students see right answers at once and "
        "pair up to explain one missed question to each other in the class channel.",
        subject="math",
        grade_band="6_8",
        practice=practice,
        why_it_works=text
        or "Feedback arrives while the lesson is fresh, and explaining a mistake to a peer builds the "
        "peer ties that the collaboration measures count.",
        url="https://learn.example.org/exemplars/exit-ticket-quiz",
        shared_by=text or "Coach Dana Whitfield",
        helpful_votes=votes,
    )


TEACHER_NAMES = (
    "Grace Okafor", "Tomás Ibarra", "Priya Raman", "Hoa Tran", "Marcus Bell", "Elif Demir", "Ruth Abara",
    "Noor Haddad",
)  # fmt: skip


def digest_view(
    scenario: str = "normal",
    community_name: str = "Grade 7 Math · Sequoia & Cedar Park",
    class_name: str | None = None,
    teacher_name: str | None = None,
    highlight: str | None = None,
    exemplar_title: str | None = None,
) -> CommunityDigestView:
    n_teachers = 65 if scenario == "large" else len(TEACHER_NAMES)
    names = [teacher_name or TEACHER_NAMES[i % len(TEACHER_NAMES)] for i in range(n_teachers)]
    teachers = tuple(
        TeacherRef(f"29:1PliDemoTeacher{i:04d}Xq7Lw2Vn", f"{name} {i // len(TEACHER_NAMES) + 1}" if i >= 8 else name)
        for i, name in enumerate(names)
    )
    small = scenario == "suppressed"
    n = SUPPRESSED_N if small else 180
    classes = tuple(
        DigestClassRow(
            class_id=f"class-{i}",
            class_name=class_name or f"Math 7 · Period {i % 6 + 1}",
            teacher=t,
            opted_in=i % 4 != 3,
            fa_reach=cmp(0.55 + (i % 5) * 0.06, 0.52 + (i % 4) * 0.05, n=SUPPRESSED_N if small or i == 2 else 25),
            participation=cmp(0.48 + (i % 3) * 0.1, n=SUPPRESSED_N if small or i == 2 else 25),
            peer_reach=cmp(0.3 + (i % 4) * 0.05, n=SUPPRESSED_N if small or i == 2 else 25),
        )
        for i, t in enumerate(teachers)
    )
    if small:
        bands = tuple(
            ActivityBand(b, Figure(None, SUPPRESSED_N, Suppression.SMALL_N))
            for b in ("daily", "weekly", "monthly", "rarely", "none")
        )
    else:
        counts = {"daily": 5, "weekly": 2, "monthly": 1, "rarely": 0, "none": 0}
        if scenario == "large":
            counts = {"daily": 44, "weekly": 12, "monthly": 5, "rarely": 3, "none": 1}
        bands = tuple(ActivityBand(b, Figure(float(c), n_teachers)) for b, c in counts.items())
    exemplars = (
        exemplar_view(
            title=exemplar_title or "Think–pair–share in the class channel",
            practice="peer_collaboration",
            exemplar_id="ex-0007",
            votes=21,
        ),
        exemplar_view(
            title=exemplar_title or "Exit-ticket quiz with instant feedback",
            practice="formative_assessment",
            exemplar_id="ex-0042",
            votes=14,
        ),
        exemplar_view(
            title=exemplar_title or "Gallery walk with sticky-note replies",
            practice="peer_collaboration",
            exemplar_id="ex-0051",
            votes=8,
        ),
    )
    return CommunityDigestView(
        community_id="community-g7-math",
        community_name=community_name,
        period_label=PERIOD,
        fa_reach=cmp(0.68, 0.63, 0.61, n=n),
        fa_monthly_reach=cmp(0.51, 0.5, 0.47, n=n),
        feedback_turnaround=cmp(21.0, 23.0, 30.0, n=n),
        participation=cmp(0.57, 0.55, 0.52, n=n),
        peer_reach=cmp(0.33, 0.31, 0.44, n=n),
        activity=bands,
        teachers=teachers,
        classes=classes,
        highlights=(
            highlight or "Three classes reached every student with a formative check this week.",
            highlight or "Feedback came back 2 hours faster than last week across the community.",
        ),
        exemplars=exemplars,
        dashboard=TabLink(DEMO_APP_ID, DEMO_TAB_ENTITY, "community:g7-math"),
    )


def private_section(teacher: TeacherRef, class_name: str = "Math 7 · Period 2") -> PrivateDigestSection:
    return PrivateDigestSection(
        teacher=teacher,
        classes=(
            PrivateClassLine(class_name, cmp(0.77, 0.69), cmp(0.6, 0.61), cmp(0.27, 0.35)),
            PrivateClassLine(
                class_name + " (B)", cmp(0.5, 0.44, n=SUPPRESSED_N), cmp(0.4, n=SUPPRESSED_N), cmp(0.2, n=SUPPRESSED_N)
            ),
        ),
    )


def search_view(query: str = "peer feedback", title: str | None = None, page: int = 2) -> ExemplarSearchView:
    practices = ("peer_collaboration", "formative_assessment", "timely_feedback", "student_discourse")
    results = tuple(
        exemplar_view(
            title=title or f"Peer feedback routine #{10 * (page - 1) + i + 1}",
            exemplar_id=f"ex-{100 + i}",
            practice=practices[i % 4],
            votes=30 - i,
        )
        for i in range(10)
    )
    return ExemplarSearchView(query=query, results=results, page=page, page_size=10, total=43)


def form_view(previous_text: str | None = None, with_errors: bool = False) -> ExemplarFormView:
    communities = (
        CommunityChoice("community-g7-math", previous_text or "Grade 7 Math · Sequoia & Cedar Park"),
        CommunityChoice("community-g8-ela", "Grade 8 ELA"),
    )
    if not with_errors:
        return ExemplarFormView(communities=communities)
    previous = {
        "title": previous_text or "Fraction talks",
        "url": "http://example.org/fraction-talks",
        "description": previous_text or "Short",
        "why_it_works": previous_text or "Students explain their reasoning to a partner before we discuss.",
        "subject": "math",
        "grade_band": "6_8",
        "practice": "nonsense",
        "communities": "community-g7-math",
    }
    errors = {
        "url": "Link: use a full https:// address, e.g. https://example.org/lesson.",
        "description": "What it is: use 10 to 500 characters.",
        "practice": "PLI practice: choose one of the options.",
    }
    return ExemplarFormView(communities=communities, previous=previous, errors=errors)


def error_view(text: str | None = None) -> ErrorView:
    return ErrorView(
        what_happened=text or "Microsoft Graph did not answer in time, so this week's figures could not be refreshed.",
        what_to_do="Try Refresh again in a few minutes. If it keeps failing, send the reference below to your "
        "PLI lead.",
        reference="PP-7Q2M-4KD",
    )


def demo_views(user_text: str | None = None) -> dict[str, tuple]:
    """Every card kind and scenario as (builder name, view[, extra]); ``user_text`` replaces every free-text field."""
    t = user_text
    digest_text = (
        {"community_name": t, "class_name": t, "teacher_name": t, "highlight": t, "exemplar_title": t} if t else {}
    )
    digest = digest_view("normal", **digest_text)
    large = digest_view("large", **digest_text)
    return {
        "class-summary": ("class_summary", class_summary_view("normal", **({"class_name": t} if t else {}))),
        "class-summary-suppressed": (
            "class_summary",
            class_summary_view("suppressed", **({"class_name": t} if t else {})),
        ),
        "class-summary-empty": ("class_summary", class_summary_view("empty", **({"class_name": t} if t else {}))),
        "digest": ("digest", digest),
        "digest-private": ("digest", digest, private_section(digest.teachers[1], **({"class_name": t} if t else {}))),
        "digest-suppressed": ("digest", digest_view("suppressed", **digest_text)),
        "digest-large": ("digest", large),
        "exemplar": ("exemplar", exemplar_view(**({"title": t, "text": t} if t else {}))),
        "exemplar-form": ("exemplar_form", form_view(t)),
        "exemplar-form-errors": ("exemplar_form", form_view(t, with_errors=True)),
        "exemplar-search": ("exemplar_search", search_view(**({"query": t, "title": t} if t else {}))),
        "exemplar-search-empty": (
            "exemplar_search",
            ExemplarSearchView(query=t or "volcano", results=(), page=1, page_size=10, total=0),
        ),
        "welcome": ("welcome", WelcomeView(user_name=t or "Grace")),
        "welcome-unknown-command": ("welcome", WelcomeView(user_name=t or "Grace", unknown_command=t or "sumary")),
        "error": ("error", error_view(t)),
    }
