"""The QBR's figures from hand-worked tickets: every number below is worked out in the
comments, not by the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.ids import TicketKind
from domain.nps import nps_summary
from domain.qbr import QbrInputs, TicketFacts, duration_text, qbr_figures
from domain.reviews import AnswerTarget, Risk, quarter
from domain.sla.policy import Priority

NY = "America/New_York"
Q1 = quarter("2027-Q1", NY)  # 2027-01-01 05:00 UTC to 2027-04-01 04:00 UTC (EDT by then)
T0 = datetime(2027, 1, 10, 14, tzinfo=UTC)
H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


def ticket(n: int, opened: datetime, priority: str = "P3", *, kind=TicketKind.INCIDENT,
           response=None, resolved=None, response_breach=None, resolution_breach=None,
           csat=None, channel=None, category=None) -> TicketFacts:
    at = lambda d: None if d is None else opened + d  # noqa: E731
    return TicketFacts(
        ticket_id=f"BWT-{n:06d}", kind=kind, priority=Priority(priority),
        category=category or f"Incident {priority}", opened_at=opened,
        first_response_at=at(response), resolved_at=at(resolved),
        response_breached_at=at(response_breach), resolution_breached_at=at(resolution_breach),
        csat_score=csat, channel=channel)


TICKETS = [
    ticket(1, T0, "P1", response=30 * M, resolved=10 * H, csat=5, channel="email"),
    ticket(2, T0 + D, "P1", response=2 * H, resolved=30 * H, response_breach=H,
           resolution_breach=26 * H, csat=2, channel="phone"),
    ticket(3, T0 + 2 * D, "P2", response=4 * M, resolved=5 * H, channel="chat"),
    ticket(4, T0 + 3 * D, "P2", response=5 * M, resolved=20 * H, csat=4, channel="chat"),
    # Resolved after the quarter ended: open at the end; its response breach counts.
    ticket(5, T0 + 4 * D, "P3", response=20 * H, resolved=90 * D, response_breach=6 * H,
           resolution_breach=85 * D, channel="email"),
    ticket(6, T0 + 5 * D, "P3", response=26 * H, resolved=3 * D, response_breach=6 * H,
           channel="email"),
    ticket(7, T0 + 6 * D, "P4", response=H, resolved=2 * H, channel="portal"),
    ticket(8, T0 + 7 * D, kind=TicketKind.SERVICE_REQUEST, response=H, resolved=D, csat=3,
           category="Service request: basic (add)"),
    ticket(9, T0 + 8 * D, kind=TicketKind.ONBOARDING, category="Onboarding (new user)"),
    # Opened 23:00 EDT on 31 March (in Q1); answered and breached only after the end.
    ticket(12, datetime(2027, 4, 1, 3, tzinfo=UTC), "P2", response=150 * M,
           response_breach=2 * H, channel="phone"),
    # Outside the quarter: ignored.
    ticket(10, datetime(2026, 12, 31, 12, tzinfo=UTC), "P1", response=M, csat=1,
           channel="email"),
    ticket(11, datetime(2027, 4, 1, 4, tzinfo=UTC), "P1", response=M, channel="email"),
]
TARGETS = [AnswerTarget(channel="email", within="24h"),
           AnswerTarget(channel="phone", label="Voicemail", average="1h"),
           AnswerTarget(channel="chat", average="5m")]
RISKS = [Risk(risk="Phishing / Credential theft", likelihood="High", impact="High"),
         Risk(risk="Ransomware", likelihood="Med", impact="Critical"),
         Risk(risk="Hardware failure", likelihood="Med", impact="Med"),
         Risk(risk="Internet outage", likelihood="Med", impact="High"),
         Risk(risk="Data loss (human error)", likelihood="High", impact="Med"),
         Risk(risk="Compliance breach", likelihood="Low-Med", impact="High")]


def figures(**overrides):
    inputs = dict(client_id="betterworld", client_name="Hudson Freight", period=Q1,
                  generated_at=Q1.end, tickets=TICKETS, answer_targets=TARGETS, risks=RISKS,
                  nps=nps_summary("2027-H1", 5, [10, 9, 7, 3]))
    return qbr_figures(QbrInputs(**{**inputs, **overrides}))


def test_quarter_bounds_are_local_midnights():
    assert Q1.start == datetime(2027, 1, 1, 5, tzinfo=UTC)   # EST, -5
    assert Q1.end == datetime(2027, 4, 1, 4, tzinfo=UTC)     # EDT, -4


def test_totals_breaches_and_means():
    f = figures()
    assert (f.tickets, f.incidents, f.open_at_end) == (10, 8, 3)  # open: #5, #9, #12
    assert f.breaches == 3                # #2 (P1), #5 and #6 (P3); #12's came after the end
    # Resolved with a target by the end: #1 #2 #3 #4 #6 #7; #2 missed it: 5 / 6.
    assert f.compliance_pct == 83.3
    # Responses by the end: 30m, 2h, 4m, 5m, 20h, 26h, 1h = 178,740 s over 7.
    assert f.mean_response_s == 25534.3
    # Resolutions by the end: 10h, 30h, 5h, 20h, 3d, 2h = 500,400 s over 6.
    assert f.mean_resolution_s == 83400.0
    assert (f.csat_average, f.csat_responses) == (3.5, 4)       # 5, 2, 4, 3
    assert f.nps is not None and f.nps.nps == 25                # (2 - 1) / 4 promoters - detractors


def test_compliance_per_priority():
    rows = {p.priority.value: p for p in figures().priorities}
    p1, p2, p3, p4 = rows["P1"], rows["P2"], rows["P3"], rows["P4"]
    assert (p1.opened, p1.responded, p1.response_pct, p1.resolved, p1.compliance_pct,
            p1.breaches) == (2, 2, 50.0, 2, 50.0, 1)
    assert p1.mean_response_s == 4500.0 and p1.mean_resolution_s == 72000.0  # 1h15, 20h
    assert (p2.opened, p2.responded, p2.response_pct, p2.resolved, p2.compliance_pct,
            p2.breaches) == (3, 2, 100.0, 2, 100.0, 0)
    assert p2.mean_response_s == 270.0 and p2.mean_resolution_s == 45000.0  # 4m30, 12h30
    assert (p3.opened, p3.responded, p3.response_pct, p3.resolved, p3.compliance_pct,
            p3.breaches) == (2, 2, 0.0, 1, 100.0, 2)
    assert p3.mean_response_s == 82800.0 and p3.mean_resolution_s == 259200.0  # 23h, 3d
    assert (p4.opened, p4.compliance_pct, p4.mean_resolution_s) == (1, 100.0, 7200.0)


def test_a_priority_without_a_resolution_target_has_no_compliance():
    f = figures(best_effort=[Priority.P4])
    p4 = next(p for p in f.priorities if p.priority is Priority.P4)
    assert (p4.resolved, p4.compliance_pct, p4.has_resolution_target) == (1, None, False)
    assert f.compliance_pct == 80.0   # #7 leaves the measure: 4 of 5


def test_top_categories_most_frequent_first():
    assert [(c.category, c.tickets) for c in figures().categories] == [
        ("Incident P2", 3), ("Incident P1", 2), ("Incident P3", 2), ("Incident P4", 1),
        ("Onboarding (new user)", 1), ("Service request: basic (add)", 1)]


def test_channel_answer_times_against_betterworld_targets():
    rows = {c.channel: c for c in figures().channels}
    assert list(rows) == ["email", "phone", "chat", "portal"]  # targets first, then the rest
    email, phone, chat, portal = rows["email"], rows["phone"], rows["chat"], rows["portal"]
    # E-mail: 30m, 20h, 26h; two of three within 24 h: missed.
    assert (email.answered, email.mean_answer_s, email.answered_within, email.met) == (
        3, 55800.0, 2, False)
    assert email.target == "within 24h" and email.name == "E-mail"
    # Voicemail: only #2 answered by the end (2 h) against an average under 1 h: missed.
    assert (phone.name, phone.opened, phone.answered, phone.mean_answer_s, phone.met) == (
        "Voicemail", 2, 1, 7200.0, False)
    # Chat: 4 and 5 minutes, 4m30 on average, under 5 minutes: met.
    assert (chat.mean_answer_s, chat.met, chat.target) == (270.0, True, "average 5m")
    assert (portal.answered, portal.target, portal.met) == (1, None, None)


def test_risk_register_scored_and_sorted():
    rows = [(r.risk, r.likelihood, r.impact, r.score) for r in figures().risks]
    assert rows == [("Phishing / Credential theft", "High", "High", 16),
                    ("Ransomware", "Med", "Critical", 15),
                    ("Internet outage", "Med", "High", 12),
                    ("Data loss (human error)", "High", "Med", 12),
                    ("Hardware failure", "Med", "Med", 9),
                    ("Compliance breach", "Low-Med", "High", 8)]


def test_nothing_in_the_quarter():
    f = figures(tickets=[], nps=None)
    assert (f.tickets, f.breaches, f.compliance_pct, f.mean_response_s, f.csat_average) == (
        0, 0, None, None, None)
    assert [c.met for c in f.channels] == [None, None, None]


def test_nps_rounds_and_counts():
    s = nps_summary("2027-H2", 10, [10, 10, 9, 8, 7, 6, 0])
    assert (s.promoters, s.passives, s.detractors, s.nps) == (3, 2, 2, 14)  # 100/7
    assert nps_summary("2027-H2", 3, []).nps is None
    assert nps_summary("2027-H2", 2, [0, 6]).nps == -100


def test_duration_text():
    assert [duration_text(s) for s in (None, 45, 270, 4500, 83400, 259200)] == [
        "-", "45 s", "4 min 30 s", "1 h 15 min", "23 h 10 min", "3 d 0 h"]
