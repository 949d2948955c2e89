"""Import customers from a large CSV or XLSX file.

The admin's import goes row by row through django-import-export (a few queries per row), which
is fine for a few thousand rows and takes hours for 100,000. This command reads the rows through
the same resource fields and widgets, so a file means the same as in the admin, but looks up
existing rows once per batch and writes with bulk_create/bulk_update.
"""

import sys
import time
from abc import abstractmethod
from collections import Counter

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from tqdm import tqdm

from customers import history
from customers.models import Customer, new_revision
from customers.resources import (
    CustomerResource,
    TextWidget,
    canonical_headers,
    customer_key_problems,
    is_blank_row,
    read_table,
    row_error,
)

# Errors printed before the report is cut short; the count covers them all.
ERRORS_SHOWN = 100


def batches(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ImportCommand(BaseCommand):
    """What both import commands share: reading, one transaction, the report."""

    resource_class = None
    key = ""

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("A .csv or .xlsx file with a header row."))
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Check the file and report what would change, without saving anything."),
        )
        parser.add_argument(
            "--encoding", help=_("The CSV file's encoding (default: UTF-8, then GBK).")
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help=_("Rows written per query.")
        )

    def handle(self, *args, file, dry_run, encoding, batch_size, **options):
        started = time.monotonic()
        try:
            headers, table = read_table(file, encoding)
            headers = canonical_headers(headers, self.resource_class.HEADERS)
        except OSError as e:
            raise CommandError(e) from e
        except (ValueError, ValidationError) as e:
            raise CommandError(" ".join(getattr(e, "messages", [str(e)]))) from e
        if self.key not in headers:
            raise CommandError(_("The file has no “%(column)s” column.") % {"column": self.key})
        rows = [dict(zip(headers, values, strict=True)) for values in table]

        self.counts = Counter()
        self.errors = {}
        try:
            command = self.__module__.rsplit(".", 1)[-1]
            with transaction.atomic(), history.recorded_as(history.BY_COMMAND, command=command):
                progress = tqdm(total=len(rows), unit=_("rows"), disable=None, file=sys.stderr)
                with progress:
                    self.import_rows(headers, rows, batch_size, progress)
                if self.errors or dry_run:
                    transaction.set_rollback(True)
        except IntegrityError as e:
            # Another import or an edit wrote the same keys since this one looked them up.
            raise CommandError(
                _("The database refused the import, so nothing was saved: %(error)s") % {"error": e}
            ) from e

        for row_number in sorted(self.errors)[:ERRORS_SHOWN]:
            self.stderr.write(row_error(row_number, self.errors[row_number]))
        if len(self.errors) > ERRORS_SHOWN:
            self.stderr.write(
                _("… and %(count)d more rows with errors.")
                % {"count": len(self.errors) - ERRORS_SHOWN}
            )
        self.stdout.write(self.summary(len(rows), time.monotonic() - started))
        if self.errors:
            raise CommandError(
                _("Nothing was imported: %(count)d rows have errors.") % {"count": len(self.errors)}
            )
        if dry_run:
            self.stdout.write(_("Dry run: nothing was saved."))

    @abstractmethod
    def import_rows(self, headers, rows, batch_size, progress):
        """Validate and write the rows (one transaction is open); collect errors in self.errors."""

    @abstractmethod
    def summary(self, row_count, seconds):
        """The closing line: what was created, updated, left unchanged."""

    def apply(self, fields, instance, row):
        """Set the row's values through the resource's fields, as the admin's import does.
        Returns (changed, errors)."""
        before = [f.get_value(instance) for f in fields]
        errors = {}
        for field in fields:
            try:
                field.save(instance, row)
            except ValueError as e:
                errors[field.attribute] = [str(e)]
        return [f.get_value(instance) for f in fields] != before, errors


class Command(ImportCommand):
    help = _(
        "Import customers from a CSV or XLSX file: rows are matched by external_id and "
        "created or updated; one bad row and nothing is imported."
    )
    resource_class = CustomerResource
    key = "external_id"

    def import_rows(self, headers, rows, batch_size, progress):
        resource = self.resource_class()
        fields = [
            f for f in resource.get_import_fields() if f.column_name in headers and not f.readonly
        ]
        self.errors.update(customer_key_problems(rows))
        numbered = [(n, row) for n, row in enumerate(rows, 1) if not is_blank_row(row.values())]
        progress.update(len(rows) - len(numbered))
        for batch in batches(numbered, batch_size):
            keys = [TextWidget().clean(row[self.key]) for _n, row in batch]
            existing = Customer.objects.filter(external_id__in=[k for k in keys if k])
            existing = {c.external_id: c for c in existing}
            # Rows without an external ID name the customer by our own id (checked above).
            ids = [
                int(TextWidget().clean(row.get("id")) or 0)
                if not key and n not in self.errors
                else 0
                for (n, row), key in zip(batch, keys, strict=True)
            ]
            by_id = Customer.objects.in_bulk([i for i in ids if i])
            creates, updates = [], []
            for (row_number, row), key, pk in zip(batch, keys, ids, strict=True):
                if row_number in self.errors:
                    continue
                customer = existing.get(key) if key else by_id.get(pk)
                new = customer is None
                if new:
                    customer = Customer()
                changed, errors = self.apply(fields, customer, row)
                if not (new or changed or errors):
                    self.counts["unchanged"] += 1
                    continue
                try:
                    # The key's uniqueness is settled above: no per-row queries here.
                    customer.full_clean(
                        exclude=list(errors), validate_unique=False, validate_constraints=False
                    )
                except ValidationError as e:
                    errors = e.update_error_dict(errors)
                if errors:
                    self.errors[row_number] = ValidationError(errors)
                    continue
                (creates if new else updates).append(customer)
            self.counts["created"] += len(creates)
            self.counts["updated"] += len(updates)
            if not self.errors:
                history.bulk_create(Customer, creates)
                now, revision = timezone.now(), new_revision()
                for customer in updates:
                    customer.updated_at, customer.revision = now, revision
                if updates:
                    written = [f.attribute for f in fields] + ["updated_at", "revision"]
                    history.bulk_update(Customer, updates, written)
            progress.update(len(batch))

    def summary(self, row_count, seconds):
        return _(
            "%(rows)d rows: %(created)d customers created, %(updated)d updated, "
            "%(unchanged)d unchanged, %(errors)d rows with errors, in %(seconds).1f s."
        ) % {
            "rows": row_count,
            "created": self.counts["created"],
            "updated": self.counts["updated"],
            "unchanged": self.counts["unchanged"],
            "errors": len(self.errors),
            "seconds": seconds,
        }
