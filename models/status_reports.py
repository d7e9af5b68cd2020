"""Each change of a message's status, logged and counted once its transaction commits.

The changes are noted where they are made (models.message_status, and the inserts of a manual
send and a reminder run) and reported from the session's after_commit event: a transaction that
rolls back, or is tried again after an outage, reports nothing twice. The event runs in the
caller's context, so each line carries the request or job id (models.log_context).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from models.enums import SmsSource, SmsStatus
from models.metrics import count_messages

log = logging.getLogger("timetrak_sms.messages")

_AFTER_COMMIT = "timetrak_sms.after_commit"


def on_commit(session: Any, report: Callable[[], None]) -> None:
    """Call `report` once the session's transaction commits; never when it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(report)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for report in session.info.pop(_AFTER_COMMIT, ()):
        report()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def status_changed(
    session: Any,
    message_id: int,
    status: SmsStatus,
    source: SmsSource | None,
    attempt: int | None = None,
    **values: Any,
) -> None:
    """One message moved to `status`. A message claimed again for a retry is SENDING once more:
    logged, but counted only on its first attempt."""

    def report() -> None:
        if status is not SmsStatus.SENDING or (attempt or 1) == 1:
            count_messages(status, source)
        extra = {
            "message_id": message_id,
            "status": status.value,
            "source": source.value if source is not None else None,
        }
        if status is SmsStatus.SENDING:
            log.info("message %d SENDING (attempt %d)", message_id, attempt or 1, extra=extra)
        elif status is SmsStatus.SENT:
            sid = values.get("provider_message_id")
            extra["provider_message_id"] = sid
            log.info("message %d SENT (provider id %s)", message_id, sid, extra=extra)
        elif status is SmsStatus.FAILED:
            code, reason = values.get("error_code"), values.get("error_message")
            extra["error_code"] = code
            log.info("message %d FAILED: %s %s", message_id, code, reason, extra=extra)
        else:
            shown = source.value if status is SmsStatus.QUEUED and source else None
            log.info(
                "message %d %s%s",
                message_id,
                status.value,
                f" ({shown})" if shown else "",
                extra=extra,
            )

    on_commit(session, report)


def created_in_bulk(session: Any, made: Counter[tuple[SmsStatus, SmsSource]]) -> None:
    """Messages a reminder run wrote: counted here, and logged as the run's counts by it."""

    def report() -> None:
        for (status, source), count in made.items():
            count_messages(status, source, count)

    on_commit(session, report)
