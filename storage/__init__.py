"""Storage: the only way the rest of Latchkey reads and writes the database.

Requests go in and come out as bot/domain's AccessRequest (the one part of bot that storage
knows); the tables stay here.

    tables.py              the SQLModel tables (nothing outside storage/ touches them)
    engine.py              engines and sessions: SQLite by default, PostgreSQL for replicas; migrations
    base.py                what every repository shares: sessions, the batch claim under SKIP LOCKED
    mapping.py             stored request rows as bot/domain's AccessRequest, and back
    request_conditions.py  which requests are expired, leased, granting: SQL shared by the two below
    requests.py            access requests: their compare-and-set transitions
    request_queries.py     access requests: what the use cases look up, the due-work scan, listings
    catalog.py             the synced catalog and the typeahead's search index
    catalog_changes.py     one change of a connector's change feed, applied to the catalog
    feed_cursors.py        how far each connector's change feed has been applied, under a lease
    audit_log.py           the append-only audit log
    outbox.py              messages to deliver, kept until delivered
    chat.py                where the bot's messages are, who people are, which events were handled
    slot_baselines.py      single-valued slots' levels found before Latchkey's first grant
    relay_cursor.py        how far each relay of the audit log has got
    step_ups.py            step-up pushes sent to approvers, one open per decision, until applied
    reviews.py             access review campaigns and their items, decided under the items' locks
"""
