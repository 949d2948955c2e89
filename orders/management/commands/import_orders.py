"""Import orders with their items from a large CSV or XLSX file (one row per item).

The file shape and the rules are those of orders/resources.py, which the admin's import uses
too; this command applies them in bulk: customers and existing orders are looked up once per
batch, orders and items are written with bulk_create/bulk_update, and totals are computed from
the items in hand instead of one aggregate query per order.
"""

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from customers import history
from customers.management.commands.import_customers import ImportCommand, batches
from customers.models import Customer
from customers.resources import TextWidget
from orders.models import Order, OrderItem
from orders.resources import OrderFile, OrderResource, order_total, stored_items


class Command(ImportCommand):
    help = _(
        "Import orders with items from a CSV or XLSX file, one row per item: orders are "
        "matched by number and created or updated; one bad row and nothing is imported."
    )
    resource_class = OrderResource
    key = "number"

    def import_rows(self, headers, rows, batch_size, progress):
        order_file = OrderFile(rows)
        self.errors.update(order_file.problems)
        resource = self.resource_class()
        resource.order_file = order_file
        fields = [
            f for f in resource.get_import_fields() if f.column_name in headers and not f.readonly
        ]
        resource.fields["customer"].widget.known = self.customers(rows)
        progress.update(len(rows) - len(order_file.number_of_row))

        for numbers in batches(list(order_file.groups), batch_size):
            existing = Order.objects.filter(number__in=numbers).select_related("customer")
            existing = {o.number: o for o in existing}
            resource.stored_items = stored_items(numbers)
            creates, updates, replace_items = [], [], []
            for number in numbers:
                row_numbers = order_file.groups[number]
                if any(n in self.errors for n in row_numbers):
                    continue
                order = existing.get(number)
                new = order is None
                if new:
                    order = Order()
                changed, errors = self.apply(fields, order, rows[row_numbers[0] - 1])
                items_change = resource.items_change(number)
                if not (new or changed or items_change or errors):
                    self.counts["unchanged"] += 1
                    continue
                try:
                    resource.validate_order(
                        order, errors, validate_unique=False, customer_checked=True
                    )
                except ValidationError as e:
                    self.errors[row_numbers[0]] = e
                    continue
                items = resource.effective_items(number)
                order.total = order_total(items, order.shipping_fee, order.discount)
                (creates if new else updates).append(order)
                if items_change:
                    replace_items.append(order)
            self.counts["created"] += len(creates)
            self.counts["updated"] += len(updates)
            if not self.errors:
                self.write(creates, updates, replace_items, [f.attribute for f in fields], resource)
            progress.update(sum(len(order_file.groups[n]) for n in numbers))

    def customers(self, rows):
        """{external_id: Customer} for every customer the file names, a query per 1000."""
        keys = {TextWidget().clean(row.get("customer_external_id")) for row in rows} - {""}
        known = {}
        for chunk in batches(sorted(keys), 1000):
            for customer in Customer.objects.filter(external_id__in=chunk):
                known[customer.external_id] = customer
        return known

    def write(self, creates, updates, replace_items, attributes, resource):
        history.bulk_create(Order, creates)
        now = timezone.now()
        for order in updates:
            order.updated_at = now
        if updates:
            history.bulk_update(Order, updates, [*attributes, "total", "updated_at"])
        # The customers are touched below, for all the changes at once.
        history.bulk_delete(
            OrderItem, OrderItem.objects.filter(order_id__in=[o.pk for o in replace_items])
        )
        items = [
            OrderItem(
                order=order,
                product_name=item.product_name,
                sku=item.sku,
                quantity=item.quantity,
                unit_price=item.unit_price,
            )
            for order in replace_items
            for item in resource.order_file.items.get(order.number, [])
        ]
        history.bulk_create(OrderItem, items)
        self.counts["items"] += len(items)
        # bulk_create and bulk_update send no signals (orders/revisions.py). An order the file
        # moves to another customer leaves the first one's list too: both change.
        changed = {o.customer_id for o in (*creates, *updates, *replace_items)}
        changed.update(o.loaded_customer_id for o in updates)
        Customer.objects.filter(pk__in=changed).touch()

    def summary(self, row_count, seconds):
        return _(
            "%(rows)d rows: %(created)d orders created, %(updated)d updated, "
            "%(unchanged)d unchanged, %(items)d items written, %(errors)d rows with errors, "
            "in %(seconds).1f s."
        ) % {
            "rows": row_count,
            "created": self.counts["created"],
            "updated": self.counts["updated"],
            "unchanged": self.counts["unchanged"],
            "items": self.counts["items"],
            "errors": len(self.errors),
            "seconds": seconds,
        }
