"""Delete the visitor info and conversations of visitors not linked to a customer, past their
retention.

A visitor's app may push a name, a phone or an address with every cmd message; for a visitor who
is no customer's nothing else justifies keeping it. Counted from the last push, so a visitor
still pushing keeps theirs. Their conversations (the contact history) go the same way, counted
from when each was last seen. Run it daily with `prune_panel_audit` (docs/deploy.md).
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from customers.models import VisitorIdentity
from iframe_panel.models import Conversation, VisitorInfo

BATCH = 10_000


class Command(BaseCommand):
    help = (
        "Delete the visitor info of visitors not linked to a customer and not updated for "
        "--days (default VISITOR_INFO_RETENTION_DAYS)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.VISITOR_INFO_RETENTION_DAYS)

    def handle(self, *args, days, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        linked = VisitorIdentity.objects.filter(visitor_im_id=OuterRef("visitor_im_id"))
        expired = VisitorInfo.objects.filter(updated_at__lt=cutoff).filter(~Exists(linked))

        # A visitor an agent unlinked from a customer keeps its row, emptied: the row remembers
        # not to link the visitor to that customer again when its app pushes the same values.
        emptied = (
            expired.exclude(unlinked_customer_ids=[])
            .exclude(params={})
            .update(params={}, param_meta={})
        )

        doomed = expired.filter(unlinked_customer_ids=[])
        deleted = 0
        # In batches, so that a first run on a large table does not hold one huge transaction.
        while True:
            ids = list(doomed.values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            # Checked again in the DELETE: a visitor linked since the SELECT keeps its info.
            deleted += doomed.filter(pk__in=ids).delete()[0]
        conversations = _delete_in_batches(
            Conversation.objects.filter(customer=None, last_seen_at__lt=cutoff).filter(
                ~Exists(linked)
            )
        )
        self.stdout.write(
            f"Deleted the visitor info of {deleted} visitors not linked to a customer and not "
            f"updated for {days} days; emptied that of {emptied} unlinked ones. Deleted "
            f"{conversations} conversations of visitors not linked to a customer."
        )


def _delete_in_batches(doomed):
    deleted = 0
    while True:
        ids = list(doomed.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        deleted += doomed.filter(pk__in=ids).delete()[0]
