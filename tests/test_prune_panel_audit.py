from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from iframe_panel.models import AuditEvent

pytestmark = pytest.mark.django_db


def entry(days_ago):
    event = AuditEvent.objects.create(action="view", outcome="ok", visitor_im_id=f"v{days_ago}")
    AuditEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    return event


def test_it_deletes_only_entries_older_than_the_retention():
    old, recent = entry(400), entry(10)
    out = StringIO()
    call_command("prune_panel_audit", "--days", "365", stdout=out)
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert "Deleted 1 panel audit entries" in out.getvalue()
    assert not AuditEvent.objects.filter(pk=old.pk).exists()


def test_it_refuses_a_retention_below_one_day():
    entry(3)
    with pytest.raises(CommandError):
        call_command("prune_panel_audit", "--days", "0")
    assert AuditEvent.objects.count() == 1


def test_the_sample_timer_runs_both_retention_commands_nightly():
    deploy = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
    service = (deploy / "crm-prune.service").read_text()
    commands = [line.split("manage.py ")[1] for line in service.splitlines() if "manage.py" in line]
    assert commands == ["prune_panel_audit", "prune_visitor_info"]
    timer = (deploy / "crm-prune.timer").read_text()
    assert "OnCalendar=*-*-* 04:15:00" in timer and "Persistent=true" in timer
