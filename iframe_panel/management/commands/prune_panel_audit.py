"""Delete panel audit entries older than a retention period.

Every panel load writes one entry, so an office of 50 agents adds a few thousand a day. Run it
daily (a systemd timer or cron, see docs/deploy.md) with the retention your policy requires.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from iframe_panel.models import AuditEvent

BATCH = 10_000


class Command(BaseCommand):
    help = "Delete panel audit log entries older than --days (default 365)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=365)

    def handle(self, *args, days, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        # In batches, so that a first run on a large table does not hold one huge transaction.
        while True:
            ids = list(
                AuditEvent.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                    :BATCH
                ]
            )
            if not ids:
                break
            deleted += AuditEvent.objects.filter(pk__in=ids).delete()[0]
        self.stdout.write(f"Deleted {deleted} panel audit entries older than {days} days.")
