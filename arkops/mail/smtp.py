"""SMTP delivery with timeouts and an honest account of what happened.

Each send ends in one of four outcomes: sent; retry (4xx or a network error
before the message body went out); failed (5xx, permanent); unknown (the
connection died after the body was sent, so the server may have it). A
failure that is a hard bounce (550, 551 or 553 to RCPT: the mailbox does
not exist or takes no mail) says so, for the suppression list.
"""

from __future__ import annotations

import base64
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import SMTPUTF8 as SMTPUTF8_POLICY

from arkops.config import env
from arkops.errors import ConfigError, redact

SENT, RETRY, FAILED, UNKNOWN = "sent", "retry", "failed", "unknown"
NOT_TRIED = "not tried"  # stopped before anything reached a server (a configuration error): still pending
SUPPRESSED = "suppressed"  # not sent: the recipient is on the suppression list for this kind of message
HARD_BOUNCE_CODES = (550, 551, 553)


@dataclass(frozen=True)
class Outcome:
    kind: str
    detail: str = ""
    reached: bool = True  # False when the server (or webhook) could not be reached at all
    hard_bounce: bool = False  # RCPT refused with 550/551/553: the address cannot receive mail


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    security: str
    mail_from: str
    timeout: float

    @classmethod
    def from_env(cls, timeout: float) -> SmtpSettings:
        security = env("SMTP_SECURITY", "starttls").lower()
        if security not in ("starttls", "ssl", "none"):
            raise ConfigError("environment", "SMTP_SECURITY", f"{security!r} is not starttls, ssl or none")
        host = env("SMTP_HOST")
        if not host:
            raise ConfigError("environment", "SMTP_HOST", "not set; messages stay queued until it is")
        port_text = env("SMTP_PORT", {"ssl": "465", "starttls": "587", "none": "25"}[security])
        if not port_text.isdigit():
            raise ConfigError("environment", "SMTP_PORT", f"{port_text!r} is not a port number")
        mail_from = env("MAIL_FROM")
        if not mail_from:
            raise ConfigError("environment", "MAIL_FROM", "not set")
        return cls(host, int(port_text), env("SMTP_USER"), env("SMTP_PASSWORD"), security, mail_from, timeout)


class SmtpConnectionError(Exception):
    """The server could not be reached, greeted, secured or logged into."""


def _reply_outcome(code: int, reply: bytes | str, step: str) -> Outcome:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    detail = f"{step}: {code} {text}".strip()
    if 400 <= code < 500:
        return Outcome(RETRY, detail)
    return Outcome(FAILED, detail)


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, or AUTH PLAIN in UTF-8 (RFC 4616) for a non-ASCII user or password, which smtplib cannot send."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    if "plain" not in (smtp.esmtp_features.get("auth") or "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN, needed for a non-ASCII user or password")
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class SmtpSession:
    """One connection, opened on first use, reused for a batch, reopened after a failure."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                _login(smtp, s.user, s.password)
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpConnectionError(redact(f"{s.host}:{s.port}: {type(exc).__name__}: {exc}")) from None
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(self, message: EmailMessage, sender: str, recipient: str) -> Outcome:
        try:
            if self._smtp is None:
                self._smtp = self.connect()
        except SmtpConnectionError as exc:
            return Outcome(RETRY, str(exc), reached=False)
        smtp = self._smtp
        body_sent = False
        policy = SMTP_POLICY
        options: list[str] = []
        if not (sender.isascii() and recipient.isascii()):
            if not smtp.has_extn("smtputf8"):
                return Outcome(FAILED, "the address needs SMTPUTF8, which this server does not offer")
            options, policy = ["SMTPUTF8", "BODY=8BITMIME"], SMTPUTF8_POLICY
        try:
            code, reply = smtp.mail(sender, options)
            if code != 250:
                smtp.rset()
                return _reply_outcome(code, reply, "MAIL FROM")
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                refused = _reply_outcome(code, reply, "RCPT TO")
                return Outcome(refused.kind, refused.detail, hard_bounce=code in HARD_BOUNCE_CODES)
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                smtp.rset()
                return _reply_outcome(code, reply, "DATA")
            payload = re.sub(rb"(?m)^\.", b"..", message.as_bytes(policy=policy))
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            body_sent = True
            smtp.send(payload + b".\r\n")
            code, reply = smtp.getreply()
            if code == 250:
                return Outcome(SENT, f"250 {reply.decode('utf-8', 'replace')}")
            return _reply_outcome(code, reply, "end of DATA")
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self._drop()
            detail = f"{type(exc).__name__}: {exc}"
            if body_sent:
                return Outcome(
                    UNKNOWN, f"connection lost after the message was sent ({detail}); the server may have it"
                )
            if isinstance(exc, smtplib.SMTPResponseException):
                return _reply_outcome(exc.smtp_code, exc.smtp_error, "SMTP")
            return Outcome(RETRY, detail, reached=False)
