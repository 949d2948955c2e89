"""The cache of what visitors' apps pushed with `updateVisitorInfoSrc` cmd messages."""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Func, JSONField, OuterRef, Subquery, Value
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import VisitorInfo

# A visitor's app could push a new parameter name on every message; keep the newest ones.
MAX_KEYS = 100


@dataclass(frozen=True)
class CachedValue:
    name: str
    text: str
    updated_at: datetime | None
    unverified: bool


def load(visitor_im_id):
    # get() on the unique column rather than first(): no ORDER BY to build on every load.
    try:
        return VisitorInfo.objects.get(visitor_im_id=visitor_im_id)
    except VisitorInfo.DoesNotExist:
        return None


# The columns a panel load reads, as annotations of the visitor's identity (`annotations()`).
_COLUMNS = ("pk", "params", "param_meta", "unlinked_customer_ids")
# merge() without the info in hand reads it first.
UNREAD = object()


def annotations():
    """The visitor's info as subqueries of the identity query (matching.find_identity): for a
    known visitor the panel then reads both in one statement instead of two. Each subquery is a
    lookup on the unique visitor_im_id."""
    row = VisitorInfo.objects.filter(visitor_im_id=OuterRef("visitor_im_id"))
    return {f"info_{name}": Subquery(row.values(name)[:1]) for name in _COLUMNS}


def from_identity(identity):
    """The info read along with `identity` (see `annotations()`), or None if there is none."""
    if identity.info_pk is None:
        return None
    return VisitorInfo(
        pk=identity.info_pk,
        visitor_im_id=identity.visitor_im_id,
        params=identity.info_params,
        param_meta=identity.info_param_meta,
        unlinked_customer_ids=identity.info_unlinked_customer_ids,
    )


def merge(visitor_im_id, values, info=UNREAD):
    """Merge `values` ({name: params.Value}) into the visitor's cached info; newest wins.

    The merge happens in the database, in one UPDATE (`JSONMerge`), so concurrent loads of the
    same visitor lose none of each other's keys without a transaction or a row lock: two
    statements for a known visitor, three for a new one (measured before, with SELECT … FOR
    UPDATE in a transaction: five and seven, BEGIN and COMMIT included). Returns the info as
    this load sees it. `info` is the stored info if the caller has read it already (None: there
    is none), which spares the read.
    """
    now = timezone.now()
    if info is UNREAD:
        info = load(visitor_im_id)
    if info is None:
        info = VisitorInfo(visitor_im_id=visitor_im_id)
        _apply(info, values, now)
        try:
            # A plain INSERT: the panel runs in autocommit, where a failed one leaves the
            # connection usable (no transaction, so no BEGIN and COMMIT around it).
            info.save(force_insert=True)
            return info
        except IntegrityError:
            # Another load created the row meanwhile: merge into it.
            info = load(visitor_im_id)
    added = VisitorInfo(params={}, param_meta={})
    _apply(added, values, now)
    VisitorInfo.objects.filter(visitor_im_id=visitor_im_id).update(
        params=JSONMerge("params", added.params),
        param_meta=JSONMerge("param_meta", added.param_meta),
        updated_at=now,
    )
    if len(info.params.keys() | values.keys()) > MAX_KEYS:
        return _trim(visitor_im_id)
    _apply(info, values, now)
    return info


def _trim(visitor_im_id):
    """Keep the MAX_KEYS newest values (rare: an app pushing ever new names)."""
    with transaction.atomic():
        info = VisitorInfo.objects.select_for_update().get(visitor_im_id=visitor_im_id)
        _apply(info, {}, timezone.now())
        info.save(update_fields=["params", "param_meta", "updated_at"])
    return info


class JSONMerge(Func):
    """The stored JSON object with the keys of `value` added or replaced: `column || value` on
    PostgreSQL, json_patch(column, value) on SQLite (its values here are never null, which
    json_patch would read as "remove")."""

    output_field = JSONField()

    def __init__(self, column, value):
        super().__init__(F(column), Value(value, output_field=JSONField()))

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" || ")

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="json_patch")


def remember_unlink(visitor_im_id, customer_id):
    """Keep pushed values from binding this visitor to `customer_id` again."""
    with transaction.atomic():
        info, _created = VisitorInfo.objects.select_for_update().get_or_create(
            visitor_im_id=visitor_im_id
        )
        if customer_id not in info.unlinked_customer_ids:
            info.unlinked_customer_ids.append(customer_id)
            info.save(update_fields=["unlinked_customer_ids", "updated_at"])


def forget_unlink(visitor_im_id, customer_id):
    """An agent linked the visitor to `customer_id` by hand: the earlier unlink no longer holds."""
    with transaction.atomic():
        info = VisitorInfo.objects.select_for_update().filter(visitor_im_id=visitor_im_id).first()
        if info and customer_id in info.unlinked_customer_ids:
            info.unlinked_customer_ids.remove(customer_id)
            info.save(update_fields=["unlinked_customer_ids", "updated_at"])


def _apply(info, values, now):
    stamp = now.isoformat()
    for name, value in values.items():
        info.params[name] = value.text
        info.param_meta[name] = {"updated_at": stamp, "unverified": value.unverified}
    if len(info.params) > MAX_KEYS:
        oldest_first = sorted(
            info.params, key=lambda n: info.param_meta.get(n, {}).get("updated_at", "")
        )
        for name in oldest_first[: len(info.params) - MAX_KEYS]:
            info.params.pop(name, None)
            info.param_meta.pop(name, None)


def entries(info):
    """The cached values for display, by name."""
    if info is None:
        return []
    result = []
    for name in sorted(info.params):
        meta = info.param_meta.get(name, {})
        result.append(
            CachedValue(
                name=name,
                text=str(info.params[name]),
                updated_at=parse_datetime(meta.get("updated_at") or ""),
                unverified=bool(meta.get("unverified")),
            )
        )
    return result


def trusted(info):
    """name -> value of the cached values that may be used to find a customer."""
    if info is None:
        return {}
    return {
        name: str(value)
        for name, value in info.params.items()
        if not info.param_meta.get(name, {}).get("unverified")
    }
