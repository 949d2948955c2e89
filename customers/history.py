"""The change history of customers, orders and items: who changed what, when, and through
which door (the admin, the API, an import, the Easemob panel).

django-simple-history writes a historical row on every save() and delete(), and takes the
user from the request (its middleware). Two things it cannot know are added here:

- who acted where no staff user is logged in: the API's integration token, an agent in the
  panel, an import command. The code that runs such a write wraps it in `recorded_as(...)`;
  every historical row written meanwhile, by save() or by the bulk helpers below, carries that
  source as its change reason (and no user);
- the writes that bypass save() (bulk_create, bulk_update, update()) write no history: they
  call the bulk helpers below, or `record_changes` after an update().
"""

import contextlib
import contextvars

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

# The change reason of what a management command writes, named by the command.
BY_COMMAND = gettext_noop("Command: %(command)s")
# simple-history's change reason column.
REASON_MAX_LENGTH = 100

_source = contextvars.ContextVar("history_source", default=None)


class Source:
    def __init__(self, reason, user=None):
        self.reason = reason[:REASON_MAX_LENGTH]
        self.user = user


@contextlib.contextmanager
def recorded_as(message, user=None, **params):
    """Record the history written in this block as coming from `message` (a gettext_noop
    string, `params` filled in) and `user` (None: no staff user acted).

    The message is stored in the installation's language, like the admin's log entries of
    personal_data.py: every member of staff reads the same history."""
    with translation.override(settings.LANGUAGE_CODE):
        reason = gettext(message) % params if params else gettext(message)
    token = _source.set(Source(reason, user))
    try:
        yield
    finally:
        _source.reset(token)


def current_reason():
    # "" rather than None: the History page shows the column as it is.
    source = _source.get()
    return source.reason if source else ""


class CRMHistoricalRecords(HistoricalRecords):
    """HistoricalRecords that take who acted from `recorded_as` when a block sets it."""

    def get_history_user(self, instance):
        source = _source.get()
        if source is not None:
            # Not the request's user: the panel's and the API's requests have none, and
            # reading it may cost a session query on the panel's statement budget.
            return source.user
        return super().get_history_user(instance)

    def get_change_reason_for_object(self, instance, history_type, using):
        reason = super().get_change_reason_for_object(instance, history_type, using)
        return reason or current_reason()


def bulk_create(model, objs):
    """`model.objects.bulk_create(objs)`, with a historical row for each."""
    return bulk_create_with_history(objs, model, default_change_reason=current_reason())


def bulk_update(model, objs, fields):
    """`model.objects.bulk_update(objs, fields)`, with a historical row for each."""
    return bulk_update_with_history(objs, model, fields, default_change_reason=current_reason())


def record_changes(model, objs):
    """A historical row for each of `objs` as they now are in the database, for a write that
    went through update(): `objs` are read back after it."""
    return model.history.bulk_history_create(
        objs, update=True, default_change_reason=current_reason()
    )


def bulk_delete(model, queryset):
    """Delete the rows of `queryset` in one statement, with a historical row for each, and
    without the per-row delete signals: the caller does what their receivers would (for order
    items, touching the customers' revisions).

    A queryset's delete() sends signals row by row when receivers exist, and simple-history
    then writes each row's history with an INSERT of its own: replacing the items of 10,006
    orders (20,000 items) with import_orders took 78 s, against 37–49 s before the history
    existed; this way, 23–28 s (PostgreSQL, docs/benchmarks.md, "Import").
    """
    rows = list(queryset)
    history_model = model.history.model
    now, reason = timezone.now(), current_reason()
    history_model.objects.bulk_create(
        [
            history_model(
                history_date=now,
                history_type="-",
                history_user=history_model.get_default_history_user(row),
                history_change_reason=reason,
                **{
                    field.attname: getattr(row, field.attname)
                    for field in history_model.tracked_fields
                },
            )
            for row in rows
        ]
    )
    # Django's own fast path, which delete() takes when no receiver listens.
    return queryset._raw_delete(queryset.db)
