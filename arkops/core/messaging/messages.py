"""The messaging domain's messages: who reads each and sample values of its variables.

The samples render every template in `arkops doctor`, `arkops mail preview` and the tests; they also
document the variables a template may use (every template also receives `recipient`, `locale`, `product`
and, in HTML, `subject`).
"""

from arkops.core.domain import Message

TEMPLATES = {
    "job_failed": Message(
        "operator",
        {"job": "stripe-sync", "failures": 3, "error": "Stripe unreachable", "recovered": False},
    ),
    "test": Message(
        "operator",
        {},
    ),
}
