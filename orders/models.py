import secrets
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Func,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.history import CRMHistoricalRecords, record_changes
from customers.models import Customer

from . import replies

ZERO = Decimal("0.00")


class OrderQuerySet(models.QuerySet):
    def summaries(self, customer_ids):
        """{customer id: {"count", "spent", "last_placed_at"}} for these customers' orders, in
        one grouped query: what a list of customers shows for the rows of its page only
        (order_customer_placed_idx). Customers without orders are absent."""
        rows = (
            self.filter(customer_id__in=list(customer_ids))
            .order_by()
            .values("customer_id")
            .annotate(
                count=Count("pk"),
                spent=Sum("total", filter=Q(status__in=Order.SPENDING_STATUSES)),
                last_placed_at=Max("placed_at"),
            )
        )
        return {row.pop("customer_id"): row for row in rows}


class OrderManager(models.Manager.from_queryset(OrderQuerySet)):
    def overview(self, customer, limit=10, annotations=None):
        """The latest `limit` orders (items prefetched, `annotations` added), and a summary of
        all the customer's orders: count, amount spent (paid and not cancelled or refunded) and
        last order time.

        The summary rides on the latest orders as window aggregates, computed over all the
        customer's orders before the LIMIT: one query instead of an aggregate and a list, on
        every panel load.
        """
        spending = Case(
            When(status__in=Order.SPENDING_STATUSES, then=F("total")),
            output_field=DecimalField(max_digits=12, decimal_places=2),
        )
        orders = list(
            self.filter(customer=customer)
            .annotate(
                all_count=Window(Count("pk")),
                all_spent=Window(Sum(spending)),
                all_last_placed_at=Window(Max("placed_at")),
                **(annotations or {}),
            )
            .prefetch_related("items")
            .order_by("-placed_at", "-pk")[:limit]
        )
        first = orders[0] if orders else None
        summary = {
            "count": first.all_count if first else 0,
            "spent": first.all_spent if first else None,
            "last_placed_at": first.all_last_placed_at if first else None,
        }
        return summary, orders

    def carriers(self):
        """The carriers named on orders, sorted, without reading every order: a loose index
        scan of order_carrier_idx, one probe per carrier. SELECT DISTINCT carrier took 0.27 s
        at 1M orders on every load of the order list; this takes well under a millisecond.
        Django has no recursive query, hence the SQL; it holds names from our own models only."""
        connection = connections[self.db]
        table = connection.ops.quote_name(self.model._meta.db_table)
        carrier = connection.ops.quote_name(self.model._meta.get_field("carrier").column)
        sql = f"""
            WITH RECURSIVE found (carrier) AS (
                SELECT MIN({carrier}) FROM {table} WHERE {carrier} > ''
                UNION ALL
                SELECT (SELECT MIN({carrier}) FROM {table} WHERE {carrier} > found.carrier)
                FROM found WHERE found.carrier IS NOT NULL
            )
            SELECT carrier FROM found WHERE carrier IS NOT NULL
        """  # noqa: S608 -- table and column names from the model, no value from a request
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [row[0] for row in cursor.fetchall()]


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending payment")
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    # Money the customer actually spent: paid, and neither cancelled nor refunded.
    SPENDING_STATUSES = (Status.PAID, Status.SHIPPED, Status.COMPLETED)
    # What describes the person rather than the sale, cleared when the customer's personal data
    # is erased; the number, status, amounts, dates and items stay for the books. The tracking
    # number goes too: the carrier's lookup shows the recipient's name, phone and address.
    PERSONAL_FIELDS = (
        "recipient",
        "recipient_phone",
        "shipping_address",
        "tracking_number",
        "remarks",
    )

    number = models.CharField(
        _("order number"),
        max_length=64,
        unique=True,
        error_messages={"unique": _("An order with this number already exists.")},
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # The total is derived, never typed: the items' sum plus shipping minus discount, kept
    # up to date by `recalculate_total` whenever an item or either amount changes.
    total = models.DecimalField(
        _("total"), max_digits=12, decimal_places=2, default=ZERO, editable=False
    )
    shipping_fee = models.DecimalField(
        _("shipping fee"), max_digits=12, decimal_places=2, default=ZERO
    )
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=ZERO)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    placed_at = models.DateTimeField(_("placed"), default=timezone.now)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    recipient = models.CharField(_("recipient"), max_length=100, blank=True)
    recipient_phone = models.CharField(_("recipient phone"), max_length=32, blank=True)
    shipping_address = models.CharField(_("shipping address"), max_length=300, blank=True)
    carrier = models.CharField(_("carrier"), max_length=50, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    remarks = models.TextField(_("remarks"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OrderManager()
    history = CRMHistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-placed_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0),
                name="order_total_non_negative",
                violation_error_message=_("The order total cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(shipping_fee__gte=0),
                name="order_shipping_fee_non_negative",
                violation_error_message=_("The shipping fee cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(discount__gte=0),
                name="order_discount_non_negative",
                violation_error_message=_("The discount cannot be negative."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed_idx"),
            models.Index(fields=["status", "-placed_at"], name="order_status_placed_idx"),
            models.Index(fields=["-placed_at"], name="order_placed_idx"),
            # The order list's carrier filter (Order.objects.carriers) and its search by
            # tracking number, at 1M orders.
            models.Index(fields=["carrier"], name="order_carrier_idx"),
            models.Index(fields=["tracking_number"], name="order_tracking_number_idx"),
        ]

    # Which customer the order belonged to when read: a save that moves it to another customer
    # changes both customers' revisions (orders/revisions.py).
    loaded_customer_id = None

    def __str__(self):
        return self.number

    def save(self, *args, **kwargs):
        self.recalculate_total(save=False)
        super().save(*args, **kwargs)
        self.loaded_customer_id = self.customer_id

    @classmethod
    def from_db(cls, db, field_names, values):
        order = super().from_db(db, field_names, values)
        order.loaded_customer_id = order.__dict__.get("customer_id")
        return order

    def items_subtotal(self):
        if not self.pk:
            return ZERO
        result = self.items.aggregate(s=Sum(F("quantity") * F("unit_price")))["s"]
        return result if result is not None else ZERO

    def clean(self):
        subtotal = self.items_subtotal()
        if subtotal + (self.shipping_fee or ZERO) - (self.discount or ZERO) < 0:
            raise ValidationError(
                {"discount": _("The discount is larger than the items plus shipping.")}
            )

    def recalculate_total(self, save=True):
        saved_total = self.total
        self.total = max(self.items_subtotal() + self.shipping_fee - self.discount, ZERO)
        if save and self.pk:
            Order.objects.filter(pk=self.pk).update(total=self.total, updated_at=timezone.now())
            # update() writes no history: the new total gets its own historical row, so
            # that the order's history says what its items' changes did to it.
            if self.total != saved_total:
                record_changes(Order, [self])
            # After the new total, not only after the item that changed it (orders/revisions.py).
            Customer.objects.filter(pk=self.customer_id).touch()
        return self.total


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="items", verbose_name=_("order")
    )
    product_name = models.CharField(_("product"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    # Shown with the order's own on the order's history page (orders/admin.py).
    history = CRMHistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="order_item_quantity_positive",
                violation_error_message=_("The quantity must be at least 1."),
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0),
                name="order_item_unit_price_non_negative",
                violation_error_message=_("The unit price cannot be negative."),
            ),
        ]

    def __str__(self):
        return self.product_name

    def save(self, *args, recalculate=True, **kwargs):
        """`recalculate=False` leaves the order's total to the caller, which saves several
        items and recalculates once (the admin's order form)."""
        super().save(*args, **kwargs)
        if recalculate:
            self.order.recalculate_total()

    def delete(self, *args, recalculate=True, **kwargs):
        result = super().delete(*args, **kwargs)
        if recalculate:
            self.order.recalculate_total()
        return result

    @property
    def line_total(self):
        return (self.unit_price or ZERO) * (self.quantity or 0)


def new_reply_revision():
    """A fresh `ReplyTemplate.revision`: random, and small enough that the sum over every
    template (what the panel's card cache is keyed on) fits in a 64-bit integer."""
    return secrets.randbits(31)


class ReplyTemplate(models.Model):
    """The sentence an agent copies for an order of a status, in one language (Copy a reply)."""

    class Language(models.TextChoices):
        ZH_HANS = "zh-hans", _("Simplified Chinese")
        EN = "en", _("English")

    status = models.CharField(_("order status"), max_length=10, choices=Order.Status.choices)
    language = models.CharField(_("language"), max_length=7, choices=Language.choices)
    text = models.CharField(
        _("reply"),
        max_length=500,
        validators=[replies.validate],
        help_text=_(
            "Placeholders in braces are replaced with the order's values: {number}, {status}, "
            "{total}, {items}, {placed_date}, {paid_date}, {shipped_date}, {carrier}, "
            "{tracking_number}."
        ),
    )
    # Changes with every save: the panel's cached cards are keyed on the sum over all templates,
    # so that an edit (or a deletion) shows on the next load of every customer.
    revision = models.IntegerField(default=new_reply_revision, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["status", "language"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        constraints = [
            models.UniqueConstraint(
                fields=["status", "language"],
                name="reply_template_unique_status_language",
                violation_error_message=_("There is already a reply for this status and language."),
            ),
        ]

    def __str__(self):
        return f"{self.get_status_display()} ({self.get_language_display()})"

    def save(self, *args, **kwargs):
        self.revision = new_reply_revision()
        super().save(*args, **kwargs)

    @classmethod
    def text_for(cls, language):
        """The text for the status of the order being read, as a subquery of an order query:
        the panel reads the replies with the orders, in no statement of their own."""
        same = cls.objects.filter(status=OuterRef("status"), language=language)
        return Subquery(same.values("text")[:1])

    @classmethod
    def revision_sum(cls):
        """The sum of every template's revision, as a subquery: it changes with any edit,
        addition or deletion. SUM as a plain function, so that the ORM adds no GROUP BY; 0 when
        there are none."""
        total = Func(F("revision"), function="SUM", output_field=models.BigIntegerField())
        subquery = Subquery(cls.objects.order_by().annotate(total=total).values("total")[:1])
        return Coalesce(subquery, 0, output_field=models.BigIntegerField())

    @classmethod
    def current_revision(cls):
        """The same sum, read on its own."""
        return cls.objects.aggregate(total=Sum("revision"))["total"] or 0
