"""Every quarter hour: contacts whose stored opt-out has drifted from their number's, set right."""

from __future__ import annotations

import logging
from typing import Any

from models.metrics import CONTACTS_RECONCILED
from models.opt_outs import reconcile_contacts

log = logging.getLogger("timetrak_sms.contacts")


async def reconcile_contact_opt_outs(ctx: dict[str, Any]) -> int:
    async with ctx["sessions"].begin() as session:
        fixed = await reconcile_contacts(session)
    if fixed:
        # Two transactions crossed (models.opt_outs.reconcile_contacts): worth knowing about.
        log.warning("set the stored opt-out of %d contacts to their number's", fixed)
        CONTACTS_RECONCILED.inc(fixed)
    return fixed
