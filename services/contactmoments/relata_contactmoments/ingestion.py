"""E-mail ingestion: a raw RFC 822 message from a mail-client add-in becomes a contact moment.

Rules, as the API documents them:

- The moment links every relation whose e-mail address appears in From, To or Cc (matched
  case-insensitively against this service's read model of relation addresses). Addresses that
  belong to no relation are reported back as ``unknown_addresses``, never guessed.
- Direction: ``in`` when the sender (From) is a known relation (the relation wrote to us),
  otherwise ``out`` (one of us wrote to the relations among the recipients).
- Idempotent on Message-ID: the same message posted again returns the moment made the first
  time (200 instead of 201), even if it was deleted since.
- When: the Date header (read as UTC without a zone); the time of ingestion if it has none.
- A mail that names no known relation at all is refused (422 ``no_known_relation``, listing the
  unknown addresses): a moment must belong to at least one relation.
"""

from __future__ import annotations

import contextlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from html.parser import HTMLParser

from sqlalchemy.ext.asyncio import AsyncSession

from relata_common.errors import DomainError, FieldError, InvalidInput, PayloadTooLarge
from relata_common.events import Actor
from relata_contactmoments.known_relations import normalise_address, relations_by_address
from relata_contactmoments.moments import MomentRecord, find_by_message_id, log_moment
from relata_contactmoments.schemas import (
    NOTES_MAX,
    SUBJECT_MAX,
    Attachment,
    EmailDetails,
    Mailbox,
    MomentInput,
)

NO_SUBJECT = "(no subject)"


class NoKnownRelation(DomainError):
    status_code = 422
    error_type = "no_known_relation"


class MessageTooLarge(PayloadTooLarge):
    error_type = "message_too_large"


@dataclass
class ParsedMail:
    message_id: str
    subject: str
    occurred_at: datetime | None
    sender: list[Mailbox]
    to: list[Mailbox]
    cc: list[Mailbox]
    attachments: list[Attachment]
    text: str

    @property
    def addresses(self) -> list[str]:
        """Every address in From, To and Cc, normalised, once each, in order of appearance."""
        return list(dict.fromkeys(m.address for m in [*self.sender, *self.to, *self.cc]))


@dataclass
class Ingested:
    moment: MomentRecord
    created: bool
    unknown_addresses: list[str] = field(default_factory=list)


def _header_problem(loc: str, message: str) -> FieldError:
    return FieldError(("body", loc), message, "invalid_message")


def _mailboxes(message: EmailMessage, name: str) -> tuple[list[Mailbox], bool]:
    """The parsable addresses of every ``name`` header, and whether anything was unparsable."""
    found: list[Mailbox] = []
    unparsable = False
    try:
        headers = message.get_all(name) or []
        for header in headers:
            for address in getattr(header, "addresses", ()):
                mailbox = _mailbox(address)
                if mailbox is None:
                    unparsable = True
                else:
                    found.append(mailbox)
    except Exception:  # the stdlib header parser raises on some broken headers
        unparsable = True
    return found, unparsable


def _mailbox(address: Address) -> Mailbox | None:
    if not address.username or not address.domain or " " in address.domain:
        return None
    return Mailbox(name=address.display_name, address=normalise_address(address.addr_spec))


def _message_id(message: EmailMessage) -> str | None:
    try:
        raw = message.get("Message-ID")
    except Exception:
        return None
    value = str(raw).strip().strip("<>").strip() if raw is not None else ""
    return value or None


def _subject(message: EmailMessage) -> str:
    try:
        subject = " ".join(str(message.get("Subject") or "").split())
    except Exception:
        subject = ""
    return (subject or NO_SUBJECT)[:SUBJECT_MAX]


def _date(message: EmailMessage) -> datetime | None:
    try:
        value = getattr(message.get("Date"), "datetime", None)
    except Exception:
        return None
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, _attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    return re.sub(r"\n\s*\n+", "\n\n", html.unescape("".join(parser.parts))).strip()


def _text_of(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)  # bytes, or None for a multipart
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return _html_to_text(content) if part.get_content_subtype() == "html" else content.strip()


def _filename(part: MIMEPart) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if name and "=?" in name:
        # Some clients put RFC 2047 encoded words inside the quoted parameter.
        with contextlib.suppress(Exception):
            name = str(make_header(decode_header(name)))
    return name


def _size(part: MIMEPart) -> int:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()  # the forwarded message, as a list of one
        forwarded = inner[0] if isinstance(inner, list) and inner else None
        if not isinstance(forwarded, Message):
            return 0
        try:
            return len(forwarded.as_bytes())
        except Exception:
            return 0
    return len(part.get_payload(decode=True) or b"")


def _attachments(part: MIMEPart, body: MIMEPart | None) -> list[Attachment]:
    """Named or attached parts, in order; a forwarded message counts as one, not its parts."""
    found: list[Attachment] = []
    for sub in part.iter_parts():
        if sub is body:
            continue
        if sub.get_content_maintype() == "multipart":
            found += _attachments(sub, body)
            continue
        name = _filename(sub)
        forwarded = sub.get_content_type() == "message/rfc822"
        if name is None and not sub.is_attachment() and not forwarded:
            continue  # an alternative rendering of the text, not an attachment
        found.append(
            Attachment(
                filename=name or ("forwarded.eml" if forwarded else "(unnamed)"),
                content_type=sub.get_content_type(),
                size=_size(sub),
            )
        )
    return found


def parse_message(raw: bytes) -> ParsedMail:
    """Parse a raw message, refusing (422, naming each problem) what cannot be a moment."""
    if not raw.strip():
        raise InvalidInput([_header_problem("message", "the body is empty: send the raw e-mail")])
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys():
        raise InvalidInput(
            [_header_problem("message", "not an RFC 822 message: it has no header lines")]
        )
    problems: list[FieldError] = []
    sender, sender_unparsable = _mailboxes(message, "From")
    to, _ = _mailboxes(message, "To")
    cc, _ = _mailboxes(message, "Cc")
    if "From" not in message:
        problems.append(_header_problem("From", "the message has no From header"))
    elif not sender:
        detail = "an unparsable address" if sender_unparsable else "no address"
        problems.append(_header_problem("From", f"the From header holds {detail}"))
    message_id = _message_id(message)
    if message_id is None:
        problems.append(
            _header_problem(
                "Message-ID", "the message has no Message-ID: it cannot be deduplicated"
            )
        )
    if problems:
        raise InvalidInput(problems)
    assert message_id is not None
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    text = _text_of(body) if body is not None else ""
    if len(text) > NOTES_MAX:
        text = text[: NOTES_MAX - 20] + "\n[truncated]"
    attachments = _attachments(message, body) if message.is_multipart() else []
    return ParsedMail(
        message_id=message_id,
        subject=_subject(message),
        occurred_at=_date(message),
        sender=sender,
        to=to,
        cc=cc,
        attachments=attachments,
        text=text,
    )


def _details(mail: ParsedMail, unknown: list[str]) -> dict:
    details = EmailDetails(
        message_id=mail.message_id,
        sender=mail.sender,
        to=mail.to,
        cc=mail.cc,
        attachments=mail.attachments,
        unknown_addresses=unknown,
    )
    return details.model_dump(mode="json", by_alias=True)


async def ingest_email(session: AsyncSession, *, raw: bytes, actor: Actor) -> Ingested:
    """Make (or find) the contact moment of one raw e-mail."""
    mail = parse_message(raw)
    existing = await find_by_message_id(session, mail.message_id)
    if existing is not None:
        return Ingested(existing, False, _stored_unknown(existing))
    known = await relations_by_address(session, mail.addresses)
    unknown = [address for address in mail.addresses if address not in known]
    relation_ids = list(dict.fromkeys(r for a in mail.addresses for r in known.get(a, [])))
    if not relation_ids:
        raise NoKnownRelation(
            "no address in From, To or Cc belongs to a known relation",
            unknown_addresses=unknown,
        )
    sender_known = any(m.address in known for m in mail.sender)
    data = MomentInput(
        kind="email",
        direction="in" if sender_known else "out",
        subject=mail.subject,
        notes=mail.text,
        occurred_at=mail.occurred_at or datetime.now(UTC),
        relation_ids=relation_ids,
    )
    moment, created = await log_moment(
        session,
        data=data,
        actor=actor,
        email=_details(mail, unknown),
        message_id=mail.message_id,
    )
    return Ingested(moment, created, unknown if created else _stored_unknown(moment))


def _stored_unknown(moment: MomentRecord) -> list[str]:
    return list((moment.email or {}).get("unknown_addresses", []))


def check_size(content_length: str | None, limit: int) -> None:
    """Refuse a declared size over the limit before reading a byte of it."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise MessageTooLarge(too_large_message(limit), limit_bytes=limit)


def too_large_message(limit: int) -> str:
    return f"the message is larger than {limit // (1024 * 1024)} MB"
