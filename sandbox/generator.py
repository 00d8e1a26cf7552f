"""Realistic mail traffic: who writes to whom, about what, and what the filter decided.

Mostly clean mail, some spam, a little phishing and malware, and senders matching the domain's
block rules rejected outright; on request, a false positive (a legitimate sender's invoice held as
spam). Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sandbox.tokens import new_id

VERDICT_MIX = (("clean", 0.85), ("spam", 0.11), ("phishing", 0.025), ("malware", 0.015))
LOCAL_PARTS = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "accounts",
    "sales",
    "support",
    "info",
    "hr",
    "it",
)
CLEAN_SENDERS = (
    "news@bbc.co.uk",
    "noreply@github.com",
    "invoices@xero.com",
    "team@slack.com",
    "orders@amazon.co.uk",
    "calendar@google.com",
    "no-reply@zoom.us",
    "billing@stripe.com",
)
FALSE_POSITIVE_SENDERS = ("invoices@xero.com", "billing@stripe.com")
"""Legitimate senders whose invoices a filter sometimes mistakes for spam."""
FALSE_POSITIVE_SCORES = (60.0, 75.0)
"""Just over the spam threshold: held in quarantine, not rejected."""
SPAM_SENDERS = (
    "deals@cheap-meds.example",
    "winner@lotto-prize.example",
    "seo@rank-first.example",
    "crypto@moonshot.example",
    "offers@replica-watches.example",
)
PHISH_SENDERS = (
    "security@micros0ft-support.example",
    "it-desk@paypa1-verify.example",
    "hr@payroll-update.example",
    "ceo@urgent-transfer.example",
)
MALWARE_SENDERS = (
    "invoice@billing-dept.example",
    "scanner@office-copier.example",
    "dhl@parcel-notice.example",
)
SUBJECTS = {
    "clean": (
        "Minutes from Tuesday",
        "Invoice INV-{n}",
        "Your order has shipped",
        "Re: Q4 plan",
        "Lunch on Friday?",
        "Weekly report",
        "Meeting invitation: design review",
        "Password changed",
        "Contract draft v{n}",
    ),
    "spam": (
        "You have WON £{n},000!!!",
        "Cheap meds, no prescription",
        "Rank #1 on Google today",
        "Replica watches 90% off",
        "Make {n}% a day with crypto",
    ),
    "phishing": (
        "Action required: verify your mailbox",
        "Your account will be suspended",
        "Payroll update - confirm your bank details",
        "Urgent wire transfer needed",
    ),
    "malware": (
        "Scanned document {n}.zip",
        "Invoice {n} (macro-enabled)",
        "Parcel delivery failed - label attached",
    ),
}
SCORES = {
    "clean": (0.0, 20.0),
    "spam": (60.0, 99.0),
    "phishing": (80.0, 100.0),
    "malware": (90.0, 100.0),
    "blocked": (100.0, 100.0),
}


def pick_verdict(rng: random.Random) -> str:
    roll = rng.random()
    for verdict, share in VERDICT_MIX:
        if roll < share:
            return verdict
        roll -= share
    return "clean"


def pick_action(verdict: str, score: float, rng: random.Random) -> str:
    if verdict == "clean":
        return "delivered"
    if verdict == "blocked":
        return "rejected"
    if verdict == "malware":
        return "rejected" if rng.random() < 0.5 else "quarantined"
    if verdict == "spam" and score > 95:
        return "rejected"
    return "quarantined"


def sender_for(verdict: str, rng: random.Random) -> str:
    pool = {
        "clean": CLEAN_SENDERS,
        "spam": SPAM_SENDERS,
        "phishing": PHISH_SENDERS,
        "malware": MALWARE_SENDERS,
    }[verdict]
    return rng.choice(pool)


def rule_matches(pattern: str, sender: str) -> bool:
    """An address matches itself; ``b.com`` and ``*@b.com`` match every address at b.com."""
    sender = sender.lower()
    pattern = pattern.lower()
    if "@" not in pattern:
        return sender.endswith("@" + pattern)
    if pattern.startswith("*@"):
        return sender.endswith(pattern[1:])
    return sender == pattern


def make_verdict(
    rng: random.Random,
    domains: Sequence[str],
    scanned_at: int,
    rules: Sequence[dict[str, Any]] = (),
    visible_after_us: int = 0,
) -> dict[str, Any]:
    domain = rng.choice(domains)
    verdict = pick_verdict(rng)
    sender = sender_for(verdict, rng)
    for rule in rules:
        if rule["domain"] == domain and rule_matches(rule["pattern"], sender):
            verdict = "blocked" if rule["action"] == "block" else "clean"
            break
    low, high = SCORES[verdict]
    score = round(rng.uniform(low, high), 1)
    subjects = SUBJECTS.get(verdict, SUBJECTS["spam"])
    return {
        "id": new_id("vrd"),
        "message_id": f"<{rng.getrandbits(64):016x}@{sender.split('@')[1]}>",
        "domain": domain,
        "sender": sender,
        "recipient": f"{rng.choice(LOCAL_PARTS)}@{domain}",
        "subject": rng.choice(subjects).format(n=rng.randint(100, 9999)),
        "verdict": verdict,
        "score": score,
        "action": pick_action(verdict, score, rng),
        "scanned_at": scanned_at,
        "visible_at": scanned_at + visible_after_us,
    }


def make_false_positive(
    rng: random.Random,
    domains: Sequence[str],
    scanned_at: int,
    rules: Sequence[dict[str, Any]] = (),
    visible_after_us: int = 0,
) -> dict[str, Any]:
    """A legitimate sender's invoice that the filter held as spam: the message people release.

    It goes to one of ``domains`` where no sender rule names the sender (an allow rule would have
    delivered it, a block rule rejected it).
    """
    sender = rng.choice(FALSE_POSITIVE_SENDERS)
    open_domains = [
        domain
        for domain in domains
        if not any(r["domain"] == domain and rule_matches(r["pattern"], sender) for r in rules)
    ]
    if not open_domains:
        raise ValueError(f"every domain has a sender rule for {sender}")
    domain = rng.choice(open_domains)
    return {
        "id": new_id("vrd"),
        "message_id": f"<{rng.getrandbits(64):016x}@{sender.split('@')[1]}>",
        "domain": domain,
        "sender": sender,
        "recipient": f"{rng.choice(('accounts', 'alice', 'frank', 'judy'))}@{domain}",
        "subject": f"Invoice INV-{rng.randint(1000, 9999)}",
        "verdict": "spam",
        "score": round(rng.uniform(*FALSE_POSITIVE_SCORES), 1),
        "action": "quarantined",
        "scanned_at": scanned_at,
        "visible_at": scanned_at + visible_after_us,
    }


DEMO_DOMAINS = (
    ("northwind-traders.co.uk", "mail.northwind-traders.co.uk"),
    ("contoso-legal.com", "mx.contoso-legal.com"),
    ("fabrikam.org", "smtp.fabrikam.org"),
    ("tailspin-toys.eu", "mail.tailspin-toys.eu"),
)
DEMO_RULES = (
    ("northwind-traders.co.uk", "*@lotto-prize.example", "block", "Lottery scam wave"),
    ("northwind-traders.co.uk", "invoices@xero.com", "allow", "Accounts needs these"),
    ("contoso-legal.com", "cheap-meds.example", "block", None),
    ("fabrikam.org", "ceo@urgent-transfer.example", "block", "CEO fraud attempt"),
)
DEMO_VERDICTS = 3000
DEMO_DAYS = 3
