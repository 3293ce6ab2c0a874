"""The request lifecycle, one use case per module, each written against the ports.

    core.py       what they all share: reading a request, the compare-and-set step, leases
    submit.py     a new request: filed under its rule, asked of people or approved at once
    decide.py     approve · deny · cancel · review a break-glass use
    extend.py     more time on active access; pending extensions closed when access ends
    bundles.py    a bundle's items started together, the bundle settled as they move
    revoke.py     expire, revoke, read back; verify that revoked access stays gone
    provision.py  grant approved access through its connector (or hand the owners a task)
    tasks.py      an owner reports a manual grant or take-back done
    chase.py      reminders, escalation, timeouts, expiry warnings
    due.py        the due-work loop: batch claims, the workers
    reviews.py    access reviews: start (review_start.py), keep or revoke (review_decide.py),
                  reminders, due dates and schedules (review_due.py)

Each takes what it calls as constructor arguments (bot/lifecycle.py wires them), and the calls
point one way:

    due ──> provision, revoke, chase, bundles      tasks ──> provision, bundles
    provision ──> revoke.TakeBack, extend, bundles revoke ──> bundles, extend
    decide ──> extend                              bundles ──> extend
    reviews ──> (a revoke: a revocation record, handed to the due loop like an expiry)

The one call back, "have the workers act on this request now" (an approval, a bundle's items),
goes through `Core.hand_over`, which runs the due loop's `work_on` on the workers.
"""
