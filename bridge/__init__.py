"""The bridge: polls each token's streams once and pushes signed webhooks to every subscriber.

A room of its own, on ``triggers`` and ``api_client`` (see ``docs/architecture.md``). Its parts:

* ``models.py``: what it keeps (subscriptions, the outbox of deliveries, attempts);
* ``storage.py``: the storage interface, and ``sqlite.py`` the embedded implementation;
* ``outbox.py``: the pump's cursor store, which commits a page's cursor and its outbox rows in
  one transaction (a crash at any instant loses nothing);
* ``signing.py``: Standard Webhooks signatures and deterministic webhook ids;
* ``targets.py``: which target URLs may be called (SSRF rules);
* ``retry.py``: the retry schedule and when a subscription counts as failing or disabled.
"""
