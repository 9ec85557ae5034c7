"""The routes of `arkops serve`: each parses its request, calls one core function, renders JSON.

docs/api.md lists them with their answers; docs/openapi.json is their OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from arkops.runtime import Runtime
from arkops.serve.wsgi import App, HttpError, Request, Response, Route, route

IDEMPOTENCY_KEY_MAX = 255


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, "bad_data", f"{key}: required, as text")
    return value


def _idempotent(rt: Runtime, request: Request, name: str, work: Any) -> Response:
    """Run `work()` -> Response once per `Idempotency-Key` (with the route): a replay gets the first answer.

    Only answers below 500 are kept: a failure on our side leaves the key free for the retry.
    """
    from arkops.core.serve.idempotency import first_answer, remember_answer

    key = request.header("Idempotency-Key")
    if key is None:
        return work()
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise HttpError(400, "bad_data", f"Idempotency-Key: 1 to {IDEMPOTENCY_KEY_MAX} printable characters")
    scoped = f"{name} {key}"
    earlier = first_answer(rt, scoped)
    if earlier is not None:
        return Response(earlier["status"], earlier["answer"], {"Idempotent-Replayed": "true"})
    response = work()
    if response.status >= 500:
        return response
    kept = remember_answer(rt, scoped, response.status, response.body, now=rt.now())
    if kept["answer"] != response.body:  # the same key, at the same moment, in another request: it stands
        return Response(kept["status"], kept["answer"], {"Idempotent-Replayed": "true"})
    response.headers["Idempotent-Replayed"] = "false"
    return response


# --- Stripe ---


def stripe_webhook(rt: Runtime, request: Request) -> Response:
    """POST /webhooks/stripe: verify the signature, apply the event once (`webhooks ingest`'s core call)."""
    from arkops.core.billing.service import ingest_webhook

    result = ingest_webhook(rt, request.body(), request.header("Stripe-Signature"), now=rt.now())
    return Response(200, {"received": True, "duplicate": bool(result.duplicates), "ignored": bool(result.ignored)})


# --- the web app's events ---


def post_events(rt: Runtime, request: Request) -> Response:
    """POST /api/events: one event or a list of up to 1,000; 202 with one result per event."""
    from arkops.core.serve.events import MAX_EVENTS, take_events

    body = request.json()
    events = body if isinstance(body, list) else [body]
    if not events:
        raise HttpError(400, "bad_data", "an empty list: post one event or a list of events")
    if len(events) > MAX_EVENTS:
        raise HttpError(400, "bad_data", f"{len(events):,} events in one request; at most {MAX_EVENTS:,}")

    def work() -> Response:
        results = take_events(rt, events, now=rt.now())
        counts: dict[str, int] = {}
        for result in results:
            counts[result["status"]] = counts.get(result["status"], 0) + 1
        return Response(202, {"results": results, "counts": counts})

    return _idempotent(rt, request, "events", work)


# --- health ---


def healthz(rt: Runtime, request: Request) -> Response:
    """GET /healthz: 200 when the data directory is readable and cron ticks; 503 with the reasons otherwise."""
    from arkops.core.serve.health import health

    found = health(rt, now=rt.now())
    return Response(200 if found.ok else 503, found.as_dict())


def metrics(app: App) -> Any:
    def handler(rt: Runtime, request: Request) -> Response:
        """GET /metrics: Prometheus text: requests by route and status, events by type and outcome, the outbox,
        the age of the last cron tick."""
        from arkops.core.serve.health import last_tick_age, outbox_counts

        lines = [
            "# HELP arkops_http_requests_total Requests answered since the server started, by route and status.",
            "# TYPE arkops_http_requests_total counter",
        ]
        with app.metrics.lock:
            requests = sorted(app.metrics.requests.items())
            events = sorted(app.metrics.events.items())
        for (name, status), count in requests:
            lines.append(f'arkops_http_requests_total{{route="{name}",status="{status}"}} {count}')
        lines += [
            "# HELP arkops_events_total App events taken by POST /api/events since the server started.",
            "# TYPE arkops_events_total counter",
        ]
        for (kind, outcome), count in events:
            lines.append(f'arkops_events_total{{type="{kind}",status="{outcome}"}} {count}')
        lines += [
            "# HELP arkops_outbox_messages Messages in the outbox by state.",
            "# TYPE arkops_outbox_messages gauge",
        ]
        states = outbox_counts(rt)
        for state in sorted({"pending", "failed", *states}):
            lines.append(f'arkops_outbox_messages{{state="{state}"}} {states.get(state, 0)}')
        age = last_tick_age(rt, now=rt.now())
        lines += [
            "# HELP arkops_last_tick_age_seconds Seconds since `arkops run` last started a job (-1: never).",
            "# TYPE arkops_last_tick_age_seconds gauge",
            f"arkops_last_tick_age_seconds {-1 if age is None else round(age, 1)}",
        ]
        return Response(200, ("\n".join(lines) + "\n").encode(), content_type="text/plain; version=0.0.4")

    return handler


def counted_events(app: App) -> Any:
    """POST /api/events, counting each event's outcome for /metrics."""

    def handler(rt: Runtime, request: Request) -> Response:
        response = post_events(rt, request)
        if response.headers.get("Idempotent-Replayed") != "true" and isinstance(response.body, dict):
            for result in response.body.get("results", []):
                if not result.get("replay"):
                    app.metrics.event(result["type"] or "unknown", result["status"])
        return response

    return handler


# --- promo codes ---


def promo_offer(rt: Runtime, request: Request) -> Response:
    """GET /api/promo/{code}?plan=: valid or not, the discount's terms, the prices before and after, slots left."""
    from arkops.core.promo.redeem import offer

    plan = request.query.get("plan")
    if not plan:
        raise HttpError(400, "bad_data", "plan: required (?plan=<plan id>)")
    return Response(200, offer(rt, request.params["code"], plan, now=rt.now()))


def promo_remaining(rt: Runtime, request: Request) -> Response:
    """GET /api/promo/{code}/remaining: the landing page's counter, cacheable for a few seconds."""
    from arkops.core.promo.redeem import remaining

    doc, _ = remaining(rt, request.params["code"])
    return Response(
        200,
        {
            "code": doc["code"],
            "remaining": doc["remaining"],
            "total": doc["slots"],
            "used": doc["used"],
            "percent_filled": doc["percent_filled"],
        },
        {"Cache-Control": "public, max-age=5"},
    )


def promo_redeem(rt: Runtime, request: Request) -> Response:
    """POST /api/promo/{code}/redeem {email, plan, locale?}: take a slot (200) or say why not (409)."""
    from arkops.core.promo.redeem import redeem

    body = request.json_object()
    email, plan = _text(body, "email"), _text(body, "plan")
    locale = _text(body, "locale", required=False)

    def work() -> Response:
        verdict = redeem(rt, request.params["code"], str(email), str(plan), locale=locale, now=rt.now())
        answer = {**verdict.as_dict(), "email": verdict.email, "redeemed": verdict.valid}
        return Response(200 if verdict.valid else 409, answer)

    return _idempotent(rt, request, f"redeem {request.params['code']}", work)


# --- billing ---


def _link(link: Any) -> Response:
    if link.url is None:  # --dry-run: what would have been asked of Stripe
        return Response(200, {**link.as_dict(), "planned": link.planned})
    return Response(200, link.as_dict())


def billing_checkout(rt: Runtime, request: Request) -> Response:
    """POST /api/billing/checkout {email, plan, promo?, trial_days?, success_url?, cancel_url?}."""
    from arkops.core.plans.stripe_ops import checkout

    body = request.json_object()
    trial_days = body.get("trial_days")
    if trial_days is not None and (not isinstance(trial_days, int) or isinstance(trial_days, bool) or trial_days < 0):
        raise HttpError(400, "bad_data", "trial_days: a whole number of days, 0 or more")

    def work() -> Response:
        link = checkout(
            rt,
            str(_text(body, "email")),
            str(_text(body, "plan")),
            trial_days=trial_days,
            promo=_text(body, "promo", required=False),
            success_url=_text(body, "success_url", required=False),
            cancel_url=_text(body, "cancel_url", required=False),
            live=False,
            now=rt.now(),
        )
        return _link(link)

    return _idempotent(rt, request, "checkout", work)


def billing_portal(rt: Runtime, request: Request) -> Response:
    """POST /api/billing/portal {email}: a billing-portal session's URL."""
    from arkops.core.plans.stripe_ops import portal

    body = request.json_object()
    return _link(portal(rt, str(_text(body, "email")), live=False, now=rt.now()))


def billing_cancel(rt: Runtime, request: Request) -> Response:
    """POST /api/billing/cancel {email, at_period_end}: cancel at the period's end (default) or now."""
    from arkops.core.plans.stripe_ops import cancel

    body = request.json_object()
    at_period_end = body.get("at_period_end", True)
    if not isinstance(at_period_end, bool):
        raise HttpError(400, "bad_data", "at_period_end: true or false")

    def work() -> Response:
        done = cancel(rt, str(_text(body, "email")), immediately=not at_period_end, live=False, now=rt.now())
        answer = {
            "email": done.email,
            "subscription": done.subscription,
            "at_period_end": done.at_period_end,
            "period_end": done.period_end,
            "status": done.status,
        }
        if done.planned:
            answer["planned"] = done.planned
        return Response(200, answer)

    return _idempotent(rt, request, "cancel", work)


def billing_subscription(rt: Runtime, request: Request) -> Response:
    """GET /api/billing/subscription?email=: the customer's subscription as the ledger has it."""
    from arkops.core.plans.stripe_ops import subscription

    email = request.query.get("email")
    if not email:
        raise HttpError(400, "bad_data", "email: required (?email=...)")
    return Response(200, subscription(rt, email, refresh=False, now=rt.now()))


def usage_show(rt: Runtime, request: Request) -> Response:
    """GET /api/usage?email=: the customer's usage of each metric this period (`usage show`)."""
    from arkops.core.plans.usage import show

    email = request.query.get("email")
    if not email:
        raise HttpError(400, "bad_data", "email: required (?email=...)")
    return Response(200, {"email": email, "usage": show(rt, email, now=rt.now())})


# --- links in customers' emails (signed per recipient: `arkops.core.messaging.consent`) ---


def _page(status: int, title: str, text: str, form: str = "") -> Response:
    """A small HTML page for a person who opened a link from an email in a browser."""
    from html import escape

    body = (
        '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family:Helvetica,Arial,sans-serif;max-width:32em;margin:3em auto;padding:0 1em">'
        f'<h1 style="font-size:1.3em">{escape(title)}</h1><p>{escape(text)}</p>{form}</body></html>'
    )
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(status, body.encode(), headers, content_type="text/html; charset=utf-8")


def unsubscribe_page(rt: Runtime, request: Request) -> Response:
    """GET /u/{token}: the address the link names and a button; nothing changes (mail scanners open links)."""
    from arkops.core.messaging.consent import unsubscribe_preview
    from arkops.core.notify import product_name

    email = unsubscribe_preview(rt, request.params["token"], now=rt.now())
    form = (
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    text = f"Stop {product_name(rt) or 'our'} lifecycle emails to {email}? Receipts and account notices still come."
    return _page(200, "Unsubscribe", text, form)


def unsubscribe_post(rt: Runtime, request: Request) -> Response:
    """POST /u/{token}: the one-click unsubscribe (RFC 8058, or the page's button): the address goes on the
    suppression list for lifecycle mail. Doing it twice is doing it once."""
    from arkops.core.messaging.consent import unsubscribe_token

    request.body()  # "List-Unsubscribe=One-Click" (RFC 8058); read to honour the body limit, the token decides
    email = unsubscribe_token(rt, request.params["token"], now=rt.now())
    return _page(200, "Unsubscribed", f"{email} will get no more of these emails.")


def billing_portal_link(rt: Runtime, request: Request) -> Response:
    """GET /billing/portal/{token}: a fresh billing-portal session for the customer the link names, by redirect
    (a session lives minutes, an email for days: the session is made on the click)."""
    from arkops.core.links import portal_email
    from arkops.core.plans.stripe_ops import portal

    email = portal_email(rt, request.params["token"], now=rt.now())
    link = portal(rt, email, live=False, now=rt.now())
    if link.url is None:  # --dry-run: what would have been asked of Stripe
        return Response(200, {**link.as_dict(), "planned": link.planned})
    return Response(303, None, {"Location": link.url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def billing_upgrade(rt: Runtime, request: Request) -> Response:
    """GET /upgrade?email=&plan=&sig=: the signed link of a day-12 or day-14 email; a fresh Checkout for that
    email and plan, to which the browser is sent (302)."""
    from arkops.core.plans.upgrade import open_link

    wanted = {name: request.query.get(name) for name in ("email", "plan", "sig")}
    if missing := [name for name, value in wanted.items() if not value]:
        raise HttpError(400, "bad_data", f"{', '.join(missing)}: required (the link of a trial email)")
    link = open_link(rt, str(wanted["email"]), str(wanted["plan"]), str(wanted["sig"]), now=rt.now())
    if link.url is None:
        return _link(link)
    return Response(302, None, {"Location": link.url, "Cache-Control": "no-store"})


def build(app: App) -> list[Route]:
    """Every route, in matching order."""
    return [
        route("POST", "/webhooks/stripe", stripe_webhook, "open"),
        route("POST", "/api/events", counted_events(app), "token"),
        route("GET", "/api/promo/{code}", promo_offer, "public"),
        route("GET", "/api/promo/{code}/remaining", promo_remaining, "public"),
        route("POST", "/api/promo/{code}/redeem", promo_redeem, "token"),
        route("POST", "/api/billing/checkout", billing_checkout, "token"),
        route("POST", "/api/billing/portal", billing_portal, "token"),
        route("POST", "/api/billing/cancel", billing_cancel, "token"),
        route("GET", "/api/billing/subscription", billing_subscription, "token"),
        route("GET", "/api/usage", usage_show, "token"),
        route("GET", "/u/{token}", unsubscribe_page, "link"),
        route("POST", "/u/{token}", unsubscribe_post, "link"),
        route("GET", "/billing/portal/{token}", billing_portal_link, "link"),
        route("GET", "/upgrade", billing_upgrade, "public"),
        route("GET", "/healthz", healthz, "open"),
        route("GET", "/metrics", metrics(app), "token"),
    ]
