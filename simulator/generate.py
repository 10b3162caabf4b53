"""Deterministic simulated district: the roster up front, each class's activity on demand.

Why two layers: a 75,000-student district's events do not fit comfortably in memory, but its roster does. So
``generate_district`` builds only roster-level facts, and ``class_activity`` / ``community_activity`` rebuild
one team's events from ``(seed, team id)`` alone, with their own ``random.Random`` seeded from a SHA-256 of
both. No global random state and no iteration order leaks in, so any class regenerates alone and identically.

The data lean the way Fresno's published results do (PRODUCT.md §1), with class-level variance:
- PLI students collaborate about 32% more: threads per student, replies per thread, and reactions and
  mentions per message are each scaled by the square root of ``PLI_COLLABORATION``, which makes
  student-to-student acts come out about 32% higher (measured over many seeds: 1.35x); PLI teachers reply
  in their students' threads 27% more often;
- PLI classes attach Forms quizzes to more assignments, post more Forms links and return feedback more
  often and faster, so more PLI students have a formative-assessment event every month;
- more than two thirds of the teachers in accountable communities converse daily.
Every class event falls on a school day (term dates, weekdays, no holidays) between 08:00 and 15:30
district time, mostly inside the class's period (``SchoolClass.period``, see ``period_window``), and never
before the actor joined the class.

Time: every object carries its own timestamps and they cover the whole term (small: six school weeks from
2026-10-26; district: 90 school days from 2026-08-06), so a server that hides everything after its clock
shows the term unfolding. Returned feedback that would land after the term end is never returned.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from simulator import names
from simulator.model import (
    Assignment,
    Calendar,
    Channel,
    ClassActivity,
    Community,
    CommunityActivity,
    District,
    Enrollment,
    FormResponse,
    Message,
    NotebookEdit,
    Person,
    Reaction,
    Resource,
    School,
    SchoolClass,
    Submission,
)

Scale = Literal["small", "district"]

TIMEZONE = "America/Los_Angeles"
DOMAIN = "fresno-pli.example.edu"
TERM_NAME = "2026-27 Fall"

DAY_START = 8 * 3600  # seconds after local midnight: class activity happens between 08:00 ...
DAY_END = 15 * 3600 + 30 * 60  # ... and 15:30
PERIOD_STEP = 75 * 60
PERIOD_LENGTH = 70 * 60
PERIODS = 6
IN_PERIOD_SHARE = 0.8  # share of class activity placed inside the class's period window
COMMUNITY_START = 7 * 3600  # teachers talk in their community channel 07:00-17:30
COMMUNITY_END = 17 * 3600 + 30 * 60

PLI_COLLABORATION = 1.32  # Fresno Year 1: 32% more digital collaboration for PLI students
PLI_TEACHER_COLLABORATION = 1.27  # ... and 27% more for PLI teachers
STUDENT_THREAD_RATE = 0.02  # threads a typical student starts per school day
REPLY_RATE = 1.6  # student replies per thread
REACTION_RATE = 0.6  # reactions per message
MENTION_SHARE = 0.12  # student messages that @mention someone
TEACHER_REPLY_SHARE = 0.35  # student threads the teacher replies in
FORM_HOSTS = ("forms.office.com", "forms.microsoft.com")
FORM_URL = "https://{host}/Pages/ResponsePage.aspx?id={form_id}"
HABITS = ("daily", "weekly", "monthly", "rarely", "none")


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    schools: int
    classes_per_school: int
    students_per_school: int
    teacher_load: int  # classes per teacher
    communities: int
    teachers_per_community: int
    communities_per_coach: int
    term_start: date
    school_day_count: int
    holidays: tuple[date, ...]


_THANKSGIVING = (date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27))
SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(
        schools=2,
        classes_per_school=12,
        students_per_school=300,
        teacher_load=2,
        communities=2,
        teachers_per_community=4,
        communities_per_coach=2,
        term_start=date(2026, 10, 26),
        school_day_count=26,  # six school weeks, to Friday 2026-12-04
        holidays=(date(2026, 11, 11), *_THANKSGIVING),
    ),
    "district": ScaleSpec(
        schools=100,
        classes_per_school=30,
        students_per_school=750,
        teacher_load=3,
        communities=30,
        teachers_per_community=10,
        communities_per_coach=3,
        term_start=date(2026, 8, 6),
        school_day_count=90,  # to Friday 2026-12-18
        holidays=(date(2026, 9, 7), date(2026, 11, 11), date(2026, 11, 23), date(2026, 11, 24), *_THANKSGIVING),
    ),
}


@dataclass(frozen=True, slots=True)
class ClassProfile:
    """A class's hidden tendencies; exposed so tests can see the intended PLI/non-PLI lean."""

    level: float  # overall engagement, lognormal around 1
    collaboration: float  # multiplier on student-to-student acts (includes the PLI lift)
    teacher_post_rate: float  # teacher posts per school day
    assignment_rate: float  # assignments per school day
    form_share: float  # share of assignments with a Forms quiz resource
    return_rate: float  # share of submissions whose feedback is returned
    turnaround_median_hours: float
    form_post_share: float  # share of teacher posts that carry a Forms link
    notebook_use: float  # 0..1, how much the class works in OneNote


@dataclass(frozen=True, slots=True)
class NotebookLayout:
    """The class notebook's section groups: one per student plus the Collaboration Space."""

    notebook_id: str
    collaboration_group_id: str
    collaboration_sections: tuple[tuple[str, str], ...]  # (section id, display name)
    student_groups: dict[str, tuple[str, tuple[tuple[str, str], ...]]]  # student id -> (group id, sections)


# --- seeding and ids -------------------------------------------------------------------------------------


def _seed_of(*parts: object) -> int:
    """A seed from the parts' text, stable across processes (``hash()`` is salted per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_seed_of(*parts))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _channel_id(rng: random.Random) -> str:
    return f"19:{_hex(rng, 32)}@thread.tacv2"


def _form_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(48))


def form_url(form_id: str, host: str = FORM_HOSTS[0]) -> str:
    return FORM_URL.format(host=host, form_id=form_id)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation keeps big rates cheap
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# --- calendar and clock ----------------------------------------------------------------------------------


def calendar_for(scale: Scale) -> Calendar:
    spec = _spec(scale)
    days: list[date] = []
    d = spec.term_start
    holidays = set(spec.holidays)
    while len(days) < spec.school_day_count:
        if d.isoweekday() <= 5 and d not in holidays:
            days.append(d)
        d += timedelta(days=1)
    return Calendar(
        term_start=spec.term_start,
        term_end=days[-1],
        timezone=TIMEZONE,
        holidays=tuple(sorted(spec.holidays)),
    )


@lru_cache(maxsize=16)
def school_days(calendar: Calendar) -> tuple[date, ...]:
    """Term dates on a school weekday that are not holidays (the simulator's own count, not the product's)."""
    out = []
    d = calendar.term_start
    holidays = set(calendar.holidays)
    while d <= calendar.term_end:
        if d.isoweekday() in calendar.weekdays and d not in holidays:
            out.append(d)
        d += timedelta(days=1)
    return tuple(out)


@lru_cache(maxsize=16)
def _midnights(calendar: Calendar) -> tuple[datetime, ...]:
    """Local midnight of each school day, as aware UTC. DST never switches during school hours (2 a.m. Sunday)."""
    zone = ZoneInfo(calendar.timezone)
    out = []
    for d in school_days(calendar):
        offset = datetime.combine(d, time(12), tzinfo=zone).utcoffset()
        assert offset is not None
        out.append(datetime(d.year, d.month, d.day, tzinfo=UTC) - offset)
    return tuple(out)


def period_window(period: int) -> tuple[int, int]:
    """Seconds after local midnight when a class in ``period`` (1-6) meets."""
    start = DAY_START + (period - 1) * PERIOD_STEP
    return start, start + PERIOD_LENGTH


def _spec(scale: str) -> ScaleSpec:
    try:
        return SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(SCALES)}") from None


# --- roster ----------------------------------------------------------------------------------------------


def generate_district(seed: int, scale: Scale) -> District:
    """The roster-level facts of a simulated district; activity comes later, per class, on demand."""
    spec = _spec(scale)
    rng = _rng(seed, "roster", scale)
    calendar = calendar_for(scale)
    days = school_days(calendar)
    people: dict[str, Person] = {}
    used_upns: set[str] = set()

    def new_person(role: Literal["student", "teacher"], school_id: str, grade: str | None, number: str) -> Person:
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        stem = f"{first}.{last}".lower().replace(" ", "")
        upn, n = f"{stem}@{DOMAIN}", 1
        while upn in used_upns:
            n += 1
            upn = f"{stem}{n}@{DOMAIN}"
        used_upns.add(upn)
        person = Person(_guid(rng), f"{first} {last}", upn, role, school_id, grade, number)
        people[person.id] = person
        return person

    tenant_id = _guid(rng)
    schools: dict[str, School] = {}
    class_specs: list[dict] = []  # mutable until PLI membership and co-teachers are known
    teacher_classes: dict[str, list[dict]] = {}
    teacher_subject: dict[str, str] = {}
    members: dict[int, list[tuple[str, date]]] = {}  # class spec index -> (student id, joined_on)
    for s in range(spec.schools):
        base = names.SCHOOL_NAMES[s % len(names.SCHOOL_NAMES)]
        suffix = f" {s // len(names.SCHOOL_NAMES) + 1}" if s >= len(names.SCHOOL_NAMES) else ""
        school = School(_guid(rng), f"{base}{suffix} Middle School", f"{400 + s}")
        schools[school.id] = school
        teachers = [
            new_person("teacher", school.id, None, f"T{s:03d}{t:02d}")
            for t in range(spec.classes_per_school // spec.teacher_load)
        ]
        school_classes: list[dict] = []
        for t, teacher in enumerate(teachers):
            subject = names.SUBJECTS[t % len(names.SUBJECTS)]
            teacher_subject[teacher.id] = subject
            periods = rng.sample(range(1, PERIODS + 1), spec.teacher_load)
            for k in range(spec.teacher_load):
                grade = str(6 + (t * spec.teacher_load + k) % 3)
                cs = {"index": len(class_specs), "school": school.id, "subject": subject, "grade": grade}
                cs |= {"period": periods[k], "teachers": [teacher.id], "small": False}
                class_specs.append(cs)
                school_classes.append(cs)
                teacher_classes.setdefault(teacher.id, []).append(cs)
        rng.choice(school_classes)["small"] = True  # one small section (under 10 students) per school
        students = [
            new_person("student", school.id, str(6 + i % 3), f"S{s:03d}{i:04d}")
            for i in range(spec.students_per_school)
        ]
        for grade in ("6", "7", "8"):
            grade_students = [p.id for p in students if p.grade == grade]
            grade_classes = [c for c in school_classes if c["grade"] == grade]
            if not grade_classes:
                continue
            _enrol_grade(rng, grade_students, grade_classes, days, members)

    communities, coach_ids, habits_of = _communities(rng, spec, teacher_classes, teacher_subject, new_person)
    pli_teachers = {tid: cohort for tid, (cohort, _) in habits_of.items()}
    for cs in class_specs:  # co-teachers: a few non-PLI classes share a second non-PLI teacher of the school
        if cs["teachers"][0] in pli_teachers or rng.random() >= 0.1:
            continue
        peers = [
            t
            for t, cl in teacher_classes.items()
            if t not in pli_teachers and t != cs["teachers"][0] and cl[0]["school"] == cs["school"]
        ]
        if peers:
            cs["teachers"].append(rng.choice(peers))

    classes: dict[str, SchoolClass] = {}
    enrollments: dict[str, tuple[Enrollment, ...]] = {}
    for cs in class_specs:
        short = names.SUBJECT_SHORT[cs["subject"]]
        channels = [Channel(_channel_id(rng), "General")]
        if rng.random() < 0.5:
            channels.append(Channel(_channel_id(rng), rng.choice(("Homework Help", "Lab Groups", "Reading Circle"))))
        primary = cs["teachers"][0]
        cohort = pli_teachers.get(primary)
        cls = SchoolClass(
            id=_guid(rng),
            display_name=f"{short} {cs['grade']} - Period {cs['period']}",
            school_id=cs["school"],
            subject=cs["subject"],
            grade=cs["grade"],
            term=TERM_NAME,
            is_pli=cohort is not None,
            cohort=cohort,
            teacher_ids=tuple(cs["teachers"]),
            channels=tuple(channels),
            class_code=_hex(rng, 7).upper(),
            mail_nickname=f"{short}{cs['grade']}P{cs['period']}-{_hex(rng, 4)}",
            period=cs["period"],
        )
        cs["id"] = cls.id
        classes[cls.id] = cls
        enrollments[cls.id] = tuple(
            [Enrollment(cls.id, t, "teacher", calendar.term_start) for t in cls.teacher_ids]
            + [Enrollment(cls.id, sid, "student", joined) for sid, joined in members.get(cs["index"], [])]
        )
    finished = {}
    for com in communities:
        class_ids = tuple(c["id"] for t in com.teacher_ids for c in teacher_classes[t])
        finished[com.id] = Community(
            id=com.id,
            display_name=com.display_name,
            channel=com.channel,
            teacher_ids=com.teacher_ids,
            coach_id=com.coach_id,
            class_ids=class_ids,
            partner_school_id=com.partner_school_id,
            posting_habit={t: habits_of[t][1] for t in com.teacher_ids},
        )
    return District(
        seed=seed,
        scale=scale,
        tenant_id=tenant_id,
        domain=DOMAIN,
        calendar=calendar,
        schools=schools,
        people=people,
        classes=classes,
        enrollments=enrollments,
        communities=finished,
        coach_ids=coach_ids,
    )


def _enrol_grade(
    rng: random.Random,
    students: list[str],
    classes: list[dict],
    days: tuple[date, ...],
    members: dict[int, list[tuple[str, date]]],
) -> None:
    """Split a grade's students into its classes (one home class each), then add some to a second class."""
    weights = [0.25 if c["small"] else rng.uniform(0.8, 1.2) for c in classes]
    total = sum(weights)
    order = students[:]
    rng.shuffle(order)
    start = 0
    for i, (c, w) in enumerate(zip(classes, weights, strict=True)):
        size = len(order) - start if i == len(classes) - 1 else round(len(order) * w / total)
        for sid in order[start : start + size]:
            members.setdefault(c["index"], []).append((sid, _joined_on(rng, days)))
        start += size
    regular = [c for c in classes if not c["small"]]
    home = {sid: c["index"] for c in classes for sid, _ in members.get(c["index"], [])}
    for sid in order:
        if rng.random() < 0.12:
            options = [c for c in regular if c["index"] != home.get(sid)]
            if options:
                members.setdefault(rng.choice(options)["index"], []).append((sid, _joined_on(rng, days)))


def _joined_on(rng: random.Random, days: tuple[date, ...]) -> date:
    """About 6% of enrolments start mid-term, after the first week and before the last third."""
    if rng.random() < 0.06:
        return days[rng.randint(5, max(5, int(len(days) * 0.7)))]
    return days[0]


def _communities(
    rng: random.Random,
    spec: ScaleSpec,
    teacher_classes: dict[str, list[dict]],
    teacher_subject: dict[str, str],
    new_person: Callable[..., Person],
) -> tuple[list[Community], tuple[str, ...], dict[str, tuple[str, str]]]:
    """Accountable communities: subject teams of PLI teachers across schools, one coach for a few communities.

    Returns the communities (``class_ids`` still empty), the coach ids, and teacher id -> (cohort, habit).
    """
    by_subject: dict[str, list[str]] = {}
    teachers = list(teacher_classes)
    rng.shuffle(teachers)
    for t in teachers:
        by_subject.setdefault(teacher_subject[t], []).append(t)
    communities: list[Community] = []
    habits_of: dict[str, tuple[str, str]] = {}  # teacher id -> (cohort, habit)
    coach_ids: list[str] = []
    for k in range(spec.communities):
        subject = names.SUBJECTS[k % len(names.SUBJECTS)]
        pool = by_subject[subject]
        members, by_subject[subject] = pool[: spec.teachers_per_community], pool[spec.teachers_per_community :]
        if k % spec.communities_per_coach == 0:
            home = teacher_classes[members[0]][0]["school"]
            coach_ids.append(new_person("teacher", home, None, f"C{len(coach_ids):03d}").id)
        school_count: dict[str, int] = {}
        for t in members:
            s = teacher_classes[t][0]["school"]
            school_count[s] = school_count.get(s, 0) + 1
        partner = max(sorted(school_count), key=lambda s: school_count[s])
        n = len(members)
        daily = min(n - 1, max(math.ceil(n * 2 / 3 + 0.01), round(n * rng.uniform(0.68, 0.85)))) if n >= 3 else n
        others = [rng.choices(HABITS[1:], weights=(0.45, 0.25, 0.2, 0.1))[0] for _ in range(n - daily)]
        habits = ["daily"] * daily + others
        rng.shuffle(habits)
        for t, habit in zip(members, habits, strict=True):
            habits_of[t] = (rng.choices(("2025", "2026"), weights=(0.6, 0.4))[0], habit)
        short = names.SUBJECT_SHORT[subject]
        communities.append(
            Community(
                id=_guid(rng),
                display_name=f"PLI {short} Accountable Community {k + 1}",
                channel=Channel(_channel_id(rng), "General"),
                teacher_ids=tuple(members),
                coach_id=coach_ids[-1],
                class_ids=(),
                partner_school_id=partner,
            )
        )
    return communities, tuple(coach_ids), habits_of


# --- class activity --------------------------------------------------------------------------------------


def class_profile(district: District, class_id: str) -> ClassProfile:
    cls = _class(district, class_id)
    rng = _rng(district.seed, "profile", class_id)
    pli = cls.is_pli
    level = math.exp(rng.gauss(0, 0.25))
    return ClassProfile(
        level=level,
        collaboration=level * (PLI_COLLABORATION if pli else 1.0),
        teacher_post_rate=0.5 * level,
        assignment_rate=(0.45 if pli else 0.32) * math.exp(rng.gauss(0, 0.2)),
        form_share=min(0.9, max(0.0, rng.gauss(0.5 if pli else 0.15, 0.1))),
        return_rate=min(0.95, max(0.1, rng.gauss(0.75 if pli else 0.5, 0.1))),
        turnaround_median_hours=(20.0 if pli else 34.0) * math.exp(rng.gauss(0, 0.3)),
        form_post_share=0.3 if pli else 0.08,
        notebook_use=min(1.0, max(0.05, rng.gauss(0.6 if pli else 0.45, 0.2))),
    )


def notebook_layout(district: District, class_id: str) -> NotebookLayout:
    """Section-group ids of the class notebook, independent of the activity draws so servers can list them."""
    rng = _rng(district.seed, "notebook", class_id)

    def oid() -> str:
        return f"1-{_guid(rng)}"

    collab = tuple((oid(), n) for n in ("Group Work", "Class Discussion", "Lab Reports"))
    groups = {}
    for e in district.enrollments[class_id]:
        if e.role == "student":
            groups[e.user_id] = (oid(), tuple((oid(), n) for n in ("Handouts", "Class Notes", "Homework", "Quizzes")))
    return NotebookLayout(oid(), oid(), collab, groups)


def _class(district: District, class_id: str) -> SchoolClass:
    try:
        return district.classes[class_id]
    except KeyError:
        raise KeyError(f"class {class_id!r} is not in this simulated district (seed {district.seed})") from None


def _student_base_propensity(seed: int, student_id: str) -> float:
    """How engaged a student is in general; about 10% of students barely take part anywhere."""
    rng = _rng(seed, "student", student_id)
    base = rng.betavariate(2.0, 2.2)
    return base * 0.15 if rng.random() < 0.1 else base


class _ClassSim:
    """Builds one class's events; all draws come from generators seeded by (seed, class id, stream)."""

    def __init__(self, district: District, cls: SchoolClass) -> None:
        self.district = district
        self.cls = cls
        self.days = school_days(district.calendar)
        self.midnights = _midnights(district.calendar)
        self.profile = class_profile(district, cls.id)
        self.period = period_window(cls.period)
        # Reactions and mentions per message lean PLI too (messages already grow with the thread lift).
        self.pli_lift = math.sqrt(PLI_COLLABORATION) if cls.is_pli else 1.0
        seed = district.seed
        day_index = {d: i for i, d in enumerate(self.days)}
        students = [e for e in district.enrollments[cls.id] if e.role == "student"]
        students.sort(key=lambda e: day_index.get(e.joined_on, 0))  # stable: roster order within a join day
        self.students = [e.user_id for e in students]
        self.join_idx = [day_index.get(e.joined_on, 0) for e in students]
        prng = _rng(seed, cls.id, "propensity")
        self.propensity = [
            min(1.0, _student_base_propensity(seed, s) * math.exp(prng.gauss(0, 0.25))) for s in self.students
        ]
        cum, acc = [], 0.0
        for p in self.propensity:
            acc += p + 0.02
            cum.append(acc)
        self.cum = cum
        self.teachers = list(cls.teacher_ids)
        self.used_ids: dict[str, set[int]] = {c.id: set() for c in cls.channels}
        self.messages: list[Message] = []
        self.form_responses: list[FormResponse] = []

    # time helpers
    def eligible(self, di: int) -> int:
        return bisect.bisect_right(self.join_idx, di)

    def ts(self, di: int, ms: int) -> datetime:
        return self.midnights[di] + timedelta(milliseconds=ms)

    def class_ms(self, rng: random.Random, latest: int = DAY_END) -> int:
        """A moment of the school day: usually inside the class period, else anywhere 08:00-``latest``."""
        lo, hi = self.period
        if rng.random() >= IN_PERIOD_SHARE or lo >= latest:
            lo, hi = DAY_START, latest
        return rng.randint(lo * 1000, min(hi, latest) * 1000)

    def after_ms(self, rng: random.Random, t: int, gap: int = 30) -> int:
        """A moment after ``t`` on the same day, usually soon after."""
        lo = min(t + gap * 1000, DAY_END * 1000)
        hi = DAY_END * 1000
        if rng.random() < 0.75:
            hi = min(hi, lo + 40 * 60 * 1000)
        return rng.randint(lo, hi)

    def pick_student(self, rng: random.Random, k: int) -> str:
        r = rng.random() * self.cum[k - 1]
        return self.students[min(bisect.bisect_right(self.cum, r, 0, k), k - 1)]

    # builders
    def run(self) -> ClassActivity:
        seed, cid = self.district.seed, self.cls.id
        self._messages(_rng(seed, cid, "messages"))
        assignments, submissions = self._assignments(_rng(seed, cid, "assignments"))
        edits = self._notebook(_rng(seed, cid, "notebook"))
        self.messages.sort(key=lambda m: (m.created_at, int(m.id)))
        self.form_responses.sort(key=lambda f: (f.responded_at, f.user_id, f.form_id))
        edits.sort(key=lambda e: (e.edited_at, e.user_id))
        return ClassActivity(
            class_id=cid,
            messages=tuple(self.messages),
            assignments=tuple(assignments),
            submissions=tuple(submissions),
            form_responses=tuple(self.form_responses),
            notebook_edits=tuple(edits),
        )

    def _message_id(self, channel_id: str, di: int, ms: int) -> tuple[str, datetime]:
        """Graph message ids are the creation time in epoch milliseconds; bump on a clash within a channel."""
        created = self.ts(di, ms)
        epoch_ms = int((created - _EPOCH) / timedelta(milliseconds=1))
        used = self.used_ids[channel_id]
        while epoch_ms in used:
            epoch_ms += 1
        used.add(epoch_ms)
        return str(epoch_ms), _EPOCH + timedelta(milliseconds=epoch_ms)

    def _messages(self, rng: random.Random) -> None:
        p = self.profile
        thread_lift = math.sqrt(p.collaboration)  # threads x replies per thread = collaboration
        channels = self.cls.channels
        for di in range(len(self.days)):
            k = self.eligible(di)
            threads: list[tuple[str, bool]] = [
                (rng.choice(self.teachers), True) for _ in range(_poisson(rng, p.teacher_post_rate))
            ]
            if k:
                n = _poisson(rng, STUDENT_THREAD_RATE * thread_lift * k)
                threads += [(self.pick_student(rng, k), False) for _ in range(n)]
            for author, is_teacher in threads:
                channel = channels[0] if len(channels) == 1 or rng.random() < 0.75 else channels[1]
                t0 = self.class_ms(rng, latest=DAY_END - 20 * 60)
                form_id = _form_id(rng) if is_teacher and rng.random() < p.form_post_share else None
                post = self._message(rng, channel.id, di, t0, author, is_teacher, None, k, form_id)
                if form_id is not None:
                    self._form_responses_to_post(rng, form_id, di, t0)
                if not k:
                    continue
                repliers = [self.pick_student(rng, k) for _ in range(_poisson(rng, REPLY_RATE * thread_lift))]
                if not is_teacher and rng.random() < TEACHER_REPLY_SHARE * (
                    PLI_TEACHER_COLLABORATION if self.cls.is_pli else 1
                ):
                    repliers.append(rng.choice(self.teachers))
                for r in repliers:
                    self._message(rng, channel.id, di, self.after_ms(rng, t0), r, r in self.teachers, post.id, k, None)

    def _message(
        self,
        rng: random.Random,
        channel_id: str,
        di: int,
        t: int,
        author: str,
        is_teacher: bool,
        reply_to: str | None,
        k: int,
        form_id: str | None,
    ) -> Message:
        people = self.district.people
        mentions: list[str] = []
        if k and rng.random() < (0.2 if is_teacher else MENTION_SHARE * self.pli_lift):
            for _ in range(1 if not is_teacher or rng.random() < 0.7 else 2):
                target = (
                    rng.choice(self.teachers) if not is_teacher and rng.random() < 0.3 else self.pick_student(rng, k)
                )
                if target != author and target not in mentions:
                    mentions.append(target)
        if is_teacher:
            text = rng.choice(names.TEACHER_TEXTS)
        else:
            text = rng.choice(names.REPLY_TEXTS if reply_to else names.POST_TEXTS)
        tags = " ".join(f'<at id="{i}">{people[m].display_name}</at>' for i, m in enumerate(mentions))
        body = f"<p>{tags + ' ' if tags else ''}{text}</p>"
        if form_id is not None:
            url = form_url(form_id)
            body += f'<p>Exit ticket: <a href="{url}">{url}</a></p>'
        reactions: list[Reaction] = []
        reactors: set[str] = set()
        for _ in range(_poisson(rng, REACTION_RATE * self.pli_lift * (1.3 if is_teacher else 1.0))):
            who = rng.choice(self.teachers) if rng.random() < 0.15 else (self.pick_student(rng, k) if k else None)
            if who is None or who == author or who in reactors:
                continue
            reactors.add(who)
            kind = rng.choices(("like", "heart", "laugh", "surprised"), weights=(6, 2, 1, 1))[0]
            reactions.append(Reaction(who, kind, self.ts(di, self.after_ms(rng, t, gap=10))))
        mid, created = self._message_id(channel_id, di, t)
        message = Message(
            id=mid,
            team_id=self.cls.id,
            channel_id=channel_id,
            reply_to_id=reply_to,
            author_id=author,
            created_at=created,
            body_html=body,
            mention_ids=tuple(mentions),
            reactions=tuple(sorted(reactions, key=lambda r: (r.created_at, r.user_id))),
            form_id=form_id,
        )
        self.messages.append(message)
        return message

    def _form_responses_to_post(self, rng: random.Random, form_id: str, di: int, t0: int) -> None:
        """Students answer an exit ticket posted in the channel the same day or the next school day."""
        for i in range(self.eligible(di)):
            if rng.random() >= 0.3 + 0.55 * self.propensity[i]:
                continue
            if rng.random() < 0.75 or di + 1 >= len(self.days):
                when = self.ts(di, self.after_ms(rng, t0, gap=60))
            else:
                when = self.ts(di + 1, self.class_ms(rng))
            op = "CreateResponse" if rng.random() < 0.1 else "SubmitResponse"
            self.form_responses.append(FormResponse(form_id, self.students[i], when.replace(microsecond=0), op))

    def _assignments(self, rng: random.Random) -> tuple[list[Assignment], list[Submission]]:
        p = self.profile
        short = names.SUBJECT_SHORT[self.cls.subject]
        last = len(self.days) - 1
        assignments: list[Assignment] = []
        submissions: list[Submission] = []
        for di in range(len(self.days)):
            if rng.random() >= p.assignment_rate:
                continue
            assigned_ms = self.class_ms(rng, latest=DAY_END - 30 * 60)
            created_ms = rng.randint(DAY_START * 1000, assigned_ms)
            due_idx = min(di + rng.randint(1, 4), last)
            has_form = rng.random() < p.form_share
            form_id = _form_id(rng) if has_form else None
            number = len(assignments) + 1
            resources: list[Resource] = []
            if form_id is not None:
                host = FORM_HOSTS[1] if rng.random() < 0.15 else FORM_HOSTS[0]
                resources.append(Resource("educationLinkResource", f"Quiz {number}", form_url(form_id, host)))
            if rng.random() < 0.5:
                resources.append(Resource("educationWordResource", f"{short} instructions {number}.docx", None))
            elif rng.random() < 0.4:
                url = f"https://www.example.edu/readings/{_hex(rng, 8)}"
                resources.append(Resource("educationLinkResource", "Reading", url))
            max_points = rng.choice((10.0, 20.0, 100.0)) if rng.random() < 0.7 else None
            assignment = Assignment(
                id=_guid(rng),
                class_id=self.cls.id,
                display_name=f"{'Quiz' if has_form else rng.choice(('Homework', 'Classwork', 'Project'))} {number}",
                created_at=self.ts(di, created_ms).replace(microsecond=0),
                assigned_at=self.ts(di, assigned_ms).replace(microsecond=0),
                due_at=self.midnights[due_idx] + timedelta(hours=23, minutes=59),
                resources=tuple(resources),
                form_id=form_id,
                max_points=max_points,
            )
            assignments.append(assignment)
            for i in range(self.eligible(due_idx)):
                submissions.append(self._submission(rng, assignment, di, assigned_ms, due_idx, i))
        return assignments, submissions

    def _submission(
        self, rng: random.Random, a: Assignment, di: int, assigned_ms: int, due_idx: int, i: int
    ) -> Submission:
        p = self.profile
        student = self.students[i]
        sub_id = _guid(rng)
        if rng.random() >= min(0.97, 0.55 + 0.4 * self.propensity[i]):
            return Submission(sub_id, a.id, self.cls.id, student, None, None, None, None)
        start = max(di, self.join_idx[i])
        if rng.random() < 0.12:
            day = min(due_idx + rng.randint(1, 3), len(self.days) - 1)
        else:
            day = rng.randint(start, max(start, due_idx))
        ms = self.after_ms(rng, assigned_ms, gap=300) if day == di else self.class_ms(rng)
        submitted = self.ts(day, ms).replace(microsecond=0)
        if a.form_id is not None:
            floor = assigned_ms + 60_000 if day == di else DAY_START * 1000
            answer_ms = max(floor, ms - rng.randint(60, 600) * 1000)
            op = "CreateResponse" if rng.random() < 0.1 else "SubmitResponse"
            responded = self.ts(day, min(answer_ms, ms)).replace(microsecond=0)
            self.form_responses.append(FormResponse(a.form_id, student, responded, op))
        returned = None
        if rng.random() < p.return_rate:
            hours = p.turnaround_median_hours * math.exp(rng.gauss(0, 0.8))
            returned = self._school_time_at_or_after(rng, submitted + timedelta(hours=hours))
        points = feedback = None
        if returned is not None:
            if a.max_points is not None:
                points = round(a.max_points * rng.uniform(0.4, 1.0), 1)
            if a.max_points is None or rng.random() < 0.5:
                feedback = rng.choice(names.FEEDBACK_TEXTS)
        return Submission(sub_id, a.id, self.cls.id, student, submitted, returned, points, feedback)

    def _school_time_at_or_after(self, rng: random.Random, target: datetime) -> datetime | None:
        """Teachers return work during school hours; a target outside them moves to the next school-day window."""
        local = target.astimezone(ZoneInfo(self.district.calendar.timezone))
        secs = local.hour * 3600 + local.minute * 60 + local.second
        di = bisect.bisect_left(self.days, local.date())
        if di < len(self.days) and self.days[di] == local.date():
            if DAY_START <= secs < DAY_END:
                return target.replace(microsecond=0)
            if secs >= DAY_END:
                di += 1
        if di >= len(self.days):
            return None  # the term ended before the teacher got to it: never returned
        return self.ts(di, self.class_ms(rng)).replace(microsecond=0)

    def _notebook(self, rng: random.Random) -> list[NotebookEdit]:
        p = self.profile
        layout = notebook_layout(self.district, self.cls.id)
        own = [p.notebook_use * (0.1 + 0.4 * q) for q in self.propensity]
        collab = [p.notebook_use * 0.06 * p.collaboration * (0.3 + q) for q in self.propensity]
        edits: list[NotebookEdit] = []
        cid = self.cls.id
        for di in range(len(self.days)):
            for i in range(self.eligible(di)):
                student = self.students[i]
                if rng.random() < own[i]:
                    group, sections = layout.student_groups[student]
                    section = rng.choice(sections)[0]
                    when = self.ts(di, self.class_ms(rng)).replace(microsecond=0)
                    edits.append(NotebookEdit(cid, student, group, section, when, "student"))
                if rng.random() < collab[i]:
                    section = rng.choice(layout.collaboration_sections)[0]
                    when = self.ts(di, self.class_ms(rng)).replace(microsecond=0)
                    edits.append(
                        NotebookEdit(cid, student, layout.collaboration_group_id, section, when, "collaboration")
                    )
            if rng.random() < 0.15:
                section = rng.choice(layout.collaboration_sections)[0]
                when = self.ts(di, self.class_ms(rng)).replace(microsecond=0)
                teacher = rng.choice(self.teachers)
                edits.append(NotebookEdit(cid, teacher, layout.collaboration_group_id, section, when, "collaboration"))
        return edits


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def class_activity(district: District, class_id: str) -> ClassActivity:
    """One class team's whole-term activity, rebuilt from (seed, class id) alone."""
    return _ClassSim(district, _class(district, class_id)).run()


def iter_class_activity(district: District) -> Iterator[ClassActivity]:
    """Every class's activity, one at a time, so a caller holds at most one class in memory."""
    for class_id in district.classes:
        yield class_activity(district, class_id)


# --- community activity ----------------------------------------------------------------------------------


def habit_days(rng: random.Random, habit: str, days: tuple[date, ...]) -> list[int]:
    """School-day indexes on which someone with ``habit`` converses, built so the habit is what §4 would measure."""
    n = len(days)
    if habit == "daily":
        k = max(math.ceil(0.8 * n), min(n, math.ceil(n * rng.uniform(0.82, 0.97))))
        return sorted(rng.sample(range(n), k))
    if habit == "weekly":
        weeks: dict[tuple[int, int], list[int]] = {}
        for i, d in enumerate(days):
            weeks.setdefault(d.isocalendar()[:2], []).append(i)
        out = []
        for idx in weeks.values():
            out += rng.sample(idx, min(len(idx), rng.randint(1, 2)))
        return sorted(out)
    months: dict[tuple[int, int], list[int]] = {}
    for i, d in enumerate(days):
        months.setdefault((d.year, d.month), []).append(i)
    if habit == "monthly":
        return sorted(rng.choice(idx) for idx in months.values())
    if habit == "rarely":
        keys = sorted(months)
        if len(keys) > 1:  # stay within one month so the teacher misses at least one month
            keys = keys[:-1]
        idx = months[rng.choice(keys)]
        return sorted(rng.sample(idx, min(len(idx), rng.randint(1, 2))))
    return []


def community_activity(district: District, community_id: str) -> CommunityActivity:
    """A community channel's conversation; teachers talk only on the school days their habit gives them."""
    try:
        com = district.communities[community_id]
    except KeyError:
        raise KeyError(f"community {community_id!r} is not in this simulated district") from None
    rng = _rng(district.seed, "community", community_id)
    days = school_days(district.calendar)
    midnights = _midnights(district.calendar)
    active: dict[int, list[str]] = {}
    for t in com.teacher_ids:
        for di in habit_days(rng, com.posting_habit.get(t, "none"), days):
            active.setdefault(di, []).append(t)
    for di in habit_days(rng, "weekly", days):
        active.setdefault(di, []).append(com.coach_id)
    people = district.people
    messages: list[Message] = []
    threads: list[tuple[int, int, Message]] = []  # (day index, ms, post) of top-level posts
    used: set[int] = set()
    for di in range(len(days)):
        actors = active.get(di, [])
        plan = sorted(
            (rng.randint(COMMUNITY_START * 1000, (COMMUNITY_END - 600) * 1000), a)
            for a in actors
            for _ in range(1 + _poisson(rng, 0.5))
        )
        for ms, author in plan:
            recent = [(d, t, m) for d, t, m in threads if di - 5 <= d and (d, t) < (di, ms)]
            reply_to = rng.choice(recent)[2] if recent and rng.random() < 0.55 else None
            mentions = ()
            others = [t for t in com.teacher_ids if t != author]
            if others and rng.random() < 0.15:
                mentions = (rng.choice(others),)
            tags = "".join(f'<at id="0">{people[m].display_name}</at> ' for m in mentions)
            if author == com.coach_id and reply_to is None:
                text = "Exemplar of the week: a formative check that worked, with the lesson video."
            else:
                text = rng.choice(names.COMMUNITY_TEXTS)
            reactions = []
            for who in sorted(set(actors) - {author}):
                if rng.random() < 0.25:
                    when = midnights[di] + timedelta(milliseconds=rng.randint(ms + 1000, COMMUNITY_END * 1000))
                    reactions.append(Reaction(who, rng.choice(("like", "heart")), when))
            epoch_ms = int((midnights[di] + timedelta(milliseconds=ms) - _EPOCH) / timedelta(milliseconds=1))
            while epoch_ms in used:
                epoch_ms += 1
            used.add(epoch_ms)
            message = Message(
                id=str(epoch_ms),
                team_id=com.id,
                channel_id=com.channel.id,
                reply_to_id=reply_to.id if reply_to else None,
                author_id=author,
                created_at=_EPOCH + timedelta(milliseconds=epoch_ms),
                body_html=f"<p>{tags}{text}</p>",
                mention_ids=mentions,
                reactions=tuple(sorted(reactions, key=lambda r: (r.created_at, r.user_id))),
            )
            messages.append(message)
            if reply_to is None:
                threads.append((di, ms, message))
    messages.sort(key=lambda m: (m.created_at, int(m.id)))
    return CommunityActivity(community_id=com.id, messages=tuple(messages))
