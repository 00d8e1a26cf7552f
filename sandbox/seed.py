"""The demo account: a few domains with sender rules and some days of realistic traffic."""

from __future__ import annotations

import random

from sandbox.generator import (
    DEMO_DAYS,
    DEMO_DOMAINS,
    DEMO_RULES,
    DEMO_VERDICTS,
    make_verdict,
)
from sandbox.store import Store
from sandbox.tokens import new_token

DAY_US = 86_400_000_000


def seed_customer(store: Store, token: str, now_us: int, demo: bool, rng: random.Random) -> str:
    """Create the first customer with ``token``; with ``demo``, fill its account."""
    customer_id = store.create_customer("Demo Ltd" if demo else "Sandbox customer", now_us)
    store.add_token(customer_id, token, now_us)
    if demo:
        fill_demo_account(store, customer_id, now_us, rng)
    return customer_id


def fill_demo_account(store: Store, customer_id: str, now_us: int, rng: random.Random) -> None:
    start = now_us - DEMO_DAYS * DAY_US
    for offset, (domain, mx_host) in enumerate(DEMO_DOMAINS):
        store.add_domain(customer_id, domain, mx_host, start - (10 - offset) * DAY_US, "active")
    for domain, pattern, action, note in DEMO_RULES:
        store.add_rule(customer_id, domain, pattern, action, note, start - DAY_US)
    rules = store.all_rules(customer_id)
    names = [domain for domain, _ in DEMO_DOMAINS]
    times = sorted(rng.randint(start, now_us - 60_000_000) for _ in range(DEMO_VERDICTS))
    store.insert_verdicts(customer_id, (make_verdict(rng, names, t, rules) for t in times))


def new_customer_with_token(store: Store, name: str, now_us: int) -> tuple[str, str, str]:
    """(customer id, token id, token) of a fresh, empty customer."""
    customer_id = store.create_customer(name, now_us)
    token = new_token()
    record = store.add_token(customer_id, token, now_us)
    return customer_id, record.id, token
