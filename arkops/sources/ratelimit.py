"""Staying inside a provider's rate limits: pace the requests, and wait when told to.

`Pacer` keeps at most `limit` requests in any `window` seconds on our side
(HubSpot: 100 per 10 s for a private app on Free/Starter, 190 on
Professional/Enterprise), holds off while a provider's headers say its
window is spent (Pipedrive's `x-ratelimit-remaining: 0` with
`x-ratelimit-reset`), and honours a 429's `Retry-After`. A wait longer than
`max_wait` (a daily budget spent: Pipedrive's token budget, HubSpot's daily
limit) is not slept through: `RateLimited` stops the work, and the caller
keeps what it did and resumes on its next run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping

from arkops.errors import ServiceError


class RateLimited(ServiceError):
    def __init__(self, service: str, seconds: float) -> None:
        super().__init__(
            f"{service}: rate limit reached; it asks to wait {seconds:g} s, longer than we wait in one run"
        )
        self.seconds = seconds


def retry_after(headers: Mapping[str, str], default: float) -> float:
    """A `Retry-After` in seconds (the HTTP-date form is not sent by these providers: the default then)."""
    value = headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return default


class Pacer:
    def __init__(
        self,
        service: str,
        *,
        limit: int,
        window: float,
        max_wait: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service, self.limit, self.window, self.max_wait = service, limit, window, max_wait
        self.sleep, self.clock = sleep, clock
        self.sent: deque[float] = deque()
        self.hold_until = 0.0
        self.waited = 0.0  # seconds slept in all, for the push's report

    def before(self) -> None:
        """Call before each request: waits as long as our window or the provider's says."""
        now = self.clock()
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()
        wait = self.hold_until - now
        if len(self.sent) >= self.limit:
            wait = max(wait, self.sent[0] + self.window - now)
        if wait > 0:
            self._wait(wait)
        self.sent.append(self.clock())

    def told(self, remaining: str | None, reset_seconds: str | None) -> None:
        """The provider's own count of what is left in its window (headers), read after each answer."""
        try:
            left = int(remaining) if remaining is not None else None
            reset = float(reset_seconds) if reset_seconds is not None else None
        except ValueError:
            return
        if left is not None and left <= 0 and reset is not None:
            self.hold_until = max(self.hold_until, self.clock() + reset)

    def rate_limited(self, seconds: float) -> None:
        """A 429: wait what it asks, or stop when that is longer than one run waits."""
        if seconds > self.max_wait:
            raise RateLimited(self.service, seconds)
        self.hold_until = max(self.hold_until, self.clock() + seconds)

    def _wait(self, seconds: float) -> None:
        if seconds > self.max_wait:
            raise RateLimited(self.service, seconds)
        self.sleep(seconds)
        self.waited += seconds
