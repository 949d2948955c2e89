"""Import and export of orders with their items, as CSV or XLSX.

A shop's spreadsheet has one row per order item, the order's own columns repeated on each row
(or left empty after the first), grouped by order number:

    number,customer_external_id,status,shipping_fee,product_name,quantity,unit_price
    SO-1001,U1001,paid,10,无线蓝牙耳机 Pro,1,399
    SO-1001,,,,Type-C 数据线,2,29.9

The admin's import/export buttons and the `import_orders` command share this resource, so the
rules hold on both paths (see also customers/resources.py):

- Orders are matched by `number`; the customer by their external ID, who must already exist.
- When the file has item columns, an order's items become exactly its rows in the file (a row
  with empty item cells adds none); without them, items are left alone. The total is never
  read: it is recalculated from the items, shipping fee and discount.
- The order's columns must agree between its rows: an empty cell takes the value from the
  order's other rows, a different value is an error.
- The same file imported twice changes nothing; one bad row and nothing is imported.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields
from import_export.results import RowResult

from customers import history
from customers.resources import (
    AllOrNothingResource,
    ChoiceWidget,
    CountWidget,
    CustomerKeyWidget,
    MomentField,
    NumberWidget,
    TextWidget,
    canonical_headers,
    is_blank,
    is_blank_row,
    keep_if_blank,
    text,
)

from .models import ZERO, Order, OrderItem

ORDER_HEADERS = {
    "number": ["订单号", "订单编号"],
    "customer_external_id": ["业务系统ID", "客户ID", "用户ID", "external_id", "customer"],
    "status": ["状态", "订单状态"],
    "currency": ["币种", "货币"],
    "shipping_fee": ["运费"],
    "discount": ["优惠", "优惠金额"],
    "total": ["合计", "订单金额"],
    "placed_at": ["下单时间"],
    "paid_at": ["付款时间", "支付时间"],
    "shipped_at": ["发货时间"],
    "recipient": ["收货人"],
    "recipient_phone": ["收货人电话", "收货电话"],
    "shipping_address": ["收货地址"],
    "carrier": ["快递公司", "物流公司"],
    "tracking_number": ["快递单号", "运单号", "物流单号"],
    "remarks": ["备注"],
    "product_name": ["商品", "商品名称", "品名"],
    "sku": ["货号", "商品编码"],
    "quantity": ["数量"],
    "unit_price": ["单价"],
}
ITEM_COLUMNS = ["product_name", "sku", "quantity", "unit_price"]
# The total is exported for reading, never imported.
ORDER_COLUMNS = [c for c in ORDER_HEADERS if c not in ITEM_COLUMNS and c != "total"]
ITEM_WIDGETS = {
    "product_name": TextWidget(),
    "sku": TextWidget(),
    "quantity": CountWidget(),
    "unit_price": NumberWidget(),
}
CENT = Decimal("0.01")


def _add(errors, field, message):
    errors.setdefault(field, []).append(message)


def clean_item(row):
    """The row's order item, None when its item cells are empty, or a ValidationError."""
    if is_blank_row(row.get(c) for c in ITEM_COLUMNS):
        return None
    errors = {}
    values = {}
    for column, widget in ITEM_WIDGETS.items():
        try:
            values[column] = widget.clean(row.get(column))
        except ValueError as e:
            _add(errors, column, str(e))
    if values.get("quantity") is None:
        values.pop("quantity", None)
    elif values["quantity"] < 1:
        _add(errors, "quantity", gettext("The quantity must be at least 1."))
    if values.get("unit_price") is not None and values["unit_price"] < 0:
        _add(errors, "unit_price", gettext("The unit price cannot be negative."))
    item = OrderItem(**{k: v for k, v in values.items() if k not in errors})
    try:
        item.full_clean(
            exclude=["order", *errors], validate_unique=False, validate_constraints=False
        )
    except ValidationError as e:
        for field, messages in e.message_dict.items():
            for message in messages:
                _add(errors, field, message)
    if errors:
        raise ValidationError(errors)
    return item


def item_key(item):
    return (item.product_name, item.sku, item.quantity, Decimal(item.unit_price).quantize(CENT))


def items_differ(new_items, stored_items):
    return [item_key(i) for i in new_items] != [item_key(i) for i in stored_items]


def order_total(items, shipping_fee, discount):
    """The same sum as Order.recalculate_total, from items in hand."""
    subtotal = sum((i.unit_price * i.quantity for i in items), ZERO)
    return max(subtotal + shipping_fee - discount, ZERO)


def order_problems(order, items):
    """What the model's constraints and clean() say about an order with these items."""
    errors = {}
    if order.shipping_fee is not None and order.shipping_fee < 0:
        _add(errors, "shipping_fee", gettext("The shipping fee cannot be negative."))
    if order.discount is not None and order.discount < 0:
        _add(errors, "discount", gettext("The discount cannot be negative."))
    if not errors and order.shipping_fee is not None and order.discount is not None:
        subtotal = sum((i.unit_price * i.quantity for i in items), ZERO)
        if subtotal + order.shipping_fee - order.discount < 0:
            _add(
                errors,
                "discount",
                gettext("The discount is larger than the items plus shipping."),
            )
    return errors


class OrderFile:
    """The rows of an order file grouped by order number, checked and completed.

    `rows` are dicts keyed by field name; rows are numbered from 1 like the admin numbers them
    (the header is not a row). Empty order cells are filled in from the order's other rows.
    """

    def __init__(self, rows):
        self.has_items = bool(rows) and "product_name" in rows[0]
        self.groups = {}  # number -> [row number, ...]
        self.items = {}  # number -> [OrderItem, ...] in file order
        self.item_of_row = {}  # row number -> OrderItem
        self.item_position = {}  # row number -> index in the order's items
        self.number_of_row = {}
        errors = {}
        values = {}  # number -> {column: (compared text, row number, value)}
        for row_number, row in enumerate(rows, 1):
            if is_blank_row(row.values()):
                continue
            number = TextWidget().clean(row.get("number"))
            if not number:
                _add(
                    errors.setdefault(row_number, {}),
                    "number",
                    gettext("%(column)s is required.") % {"column": "number"},
                )
                continue
            self.number_of_row[row_number] = number
            self.groups.setdefault(number, []).append(row_number)
            seen = values.setdefault(number, {})
            for column in ORDER_COLUMNS:
                if column not in row or is_blank(row[column]):
                    continue
                compared = str(row[column]).strip()
                if column not in seen:
                    seen[column] = (compared, row_number, row[column])
                elif seen[column][0] != compared:
                    _add(
                        errors.setdefault(row_number, {}),
                        column,
                        gettext(
                            "“%(value)s” differs from “%(other)s” on line %(line)d, "
                            "in the same order."
                        )
                        % {
                            "value": compared,
                            "other": seen[column][0],
                            "line": seen[column][1] + 1,
                        },
                    )
            if self.has_items:
                try:
                    item = clean_item(row)
                except ValidationError as e:
                    for field, messages in e.message_dict.items():
                        for message in messages:
                            _add(errors.setdefault(row_number, {}), field, message)
                else:
                    if item is not None:
                        self.item_position[row_number] = len(self.items.setdefault(number, []))
                        self.items[number].append(item)
                        self.item_of_row[row_number] = item
        for number, row_numbers in self.groups.items():
            for row_number in row_numbers:
                row = rows[row_number - 1]
                for column, (_compared, _row, value) in values[number].items():
                    if is_blank(row.get(column)):
                        row[column] = value
        self.problems = {n: ValidationError(e) for n, e in errors.items()}

    def is_first_row(self, row_number):
        number = self.number_of_row.get(row_number)
        return number is not None and self.groups[number][0] == row_number


def stored_items(numbers, batch=500):
    """{order number: [OrderItem, ...]} as stored now, in one query per batch of numbers."""
    numbers = list(numbers)
    result = {}
    for start in range(0, len(numbers), batch):
        items = OrderItem.objects.filter(order__number__in=numbers[start : start + batch])
        for item in items.order_by("pk").values("order__number", *ITEM_COLUMNS):
            number = item.pop("order__number")
            result.setdefault(number, []).append(OrderItem(**item))
    return result


def _line_field(name, widget):
    # Item columns read from the order's `line_item`: the item a row stands for, set while
    # exporting and while importing (for the preview's diff). Never saved through the field.
    return fields.Field(f"line_item__{name}", name, widget, readonly=True)


class CurrencyWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row, **kwargs).upper() or None


class OrderResource(AllOrNothingResource):
    HEADERS = ORDER_HEADERS
    LABELS = {
        "customer_external_id": _("customer’s external ID"),
        **{name: OrderItem._meta.get_field(name).verbose_name for name in ITEM_COLUMNS},
    }

    number = text("number")
    customer = keep_if_blank("customer", CustomerKeyWidget(), "customer_external_id")
    status = keep_if_blank("status", ChoiceWidget(Order.Status))
    currency = keep_if_blank("currency", CurrencyWidget())
    shipping_fee = keep_if_blank("shipping_fee", NumberWidget())
    discount = keep_if_blank("discount", NumberWidget())
    total = fields.Field("total", "total", NumberWidget(), readonly=True)
    placed_at = MomentField("placed_at")
    paid_at = MomentField("paid_at")
    shipped_at = MomentField("shipped_at")
    recipient = text("recipient")
    recipient_phone = text("recipient_phone")
    shipping_address = text("shipping_address")
    carrier = text("carrier")
    tracking_number = text("tracking_number")
    remarks = text("remarks")
    product_name = _line_field("product_name", TextWidget())
    sku = _line_field("sku", TextWidget())
    quantity = _line_field("quantity", CountWidget())
    unit_price = _line_field("unit_price", NumberWidget())

    class Meta:
        model = Order
        fields = ["customer" if c == "customer_external_id" else c for c in ORDER_HEADERS]
        import_id_fields = ["number"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        name = _("Orders with items")

    # --- export: one row per item; an order without items gets one row ---------------------

    def iter_queryset(self, queryset):
        if isinstance(queryset, QuerySet):
            queryset = queryset.select_related("customer").prefetch_related("items")
        for order in super().iter_queryset(queryset):
            for item in list(order.items.all()) or [None]:
                order.line_item = item
                yield order

    # --- import ------------------------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        dataset.headers = canonical_headers(dataset.headers or [], self.HEADERS)
        rows = [dict(zip(dataset.headers, values, strict=False)) for values in dataset]
        self.order_file = OrderFile(rows)
        for index, row in enumerate(rows):
            dataset[index] = [row[h] for h in dataset.headers]
        self.row_problems = self.order_file.problems
        self.stored_items = stored_items(self.order_file.groups)
        self.group_type = {}

    def before_import_row(self, row, **kwargs):
        self.current_row = kwargs.get("row_number")
        super().before_import_row(row, **kwargs)

    def _line_items(self, row_number):
        number = self.order_file.number_of_row[row_number]
        position = self.order_file.item_position.get(row_number)
        stored = self.stored_items.get(number, [])
        old = stored[position] if position is not None and position < len(stored) else None
        return old, self.order_file.item_of_row.get(row_number)

    def after_init_instance(self, instance, new, row, **kwargs):
        instance.line_item = self._line_items(kwargs["row_number"])[0]

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        instance.line_item = self._line_items(kwargs["row_number"])[1]

    def items_change(self, number):
        if not self.order_file.has_items:
            return False
        return items_differ(
            self.order_file.items.get(number, []), self.stored_items.get(number, [])
        )

    def effective_items(self, number):
        if self.order_file.has_items:
            return self.order_file.items.get(number, [])
        return self.stored_items.get(number, [])

    def skip_row(self, instance, original, row, import_validation_errors=None):
        # Only an order's first row writes it; its other rows report the order's outcome.
        if not self.order_file.is_first_row(self.current_row):
            return True
        unchanged = super().skip_row(instance, original, row, import_validation_errors)
        return unchanged and not self.items_change(instance.number)

    def validate_order(self, instance, errors, validate_unique=True, customer_checked=False):
        """Field checks plus the model's rules, with the file's items in place of the stored
        ones (Order.clean reads the stored items, which the import is about to replace).
        `customer_checked` skips the query that confirms the customer exists, for a caller
        that has just looked the customer up."""
        errors = {k: v if isinstance(v, list) else [v] for k, v in (errors or {}).items()}
        exclude = list(errors)
        if customer_checked and instance.customer_id is not None:
            exclude.append("customer")
        try:
            instance.clean_fields(exclude=exclude)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        for field, messages in order_problems(
            instance, self.effective_items(instance.number)
        ).items():
            errors.setdefault(field, []).extend(messages)
        if validate_unique:
            try:
                instance.validate_unique(exclude=list(errors))
            except ValidationError as e:
                errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        self.validate_order(instance, import_validation_errors, validate_unique)

    def after_save_instance(self, instance, row, **kwargs):
        if self.items_change(instance.number):
            instance.items.all().delete()
            history.bulk_create(
                OrderItem,
                [
                    OrderItem(
                        order=instance,
                        product_name=i.product_name,
                        sku=i.sku,
                        quantity=i.quantity,
                        unit_price=i.unit_price,
                    )
                    for i in self.order_file.items.get(instance.number, [])
                ],
            )
        instance.recalculate_total()

    def after_import_row(self, row, row_result, **kwargs):
        row_number = kwargs.get("row_number")
        number = self.order_file.number_of_row.get(row_number)
        if number is None:
            return
        if self.order_file.is_first_row(row_number):
            self.group_type[number] = row_result.import_type
        elif row_result.import_type == RowResult.IMPORT_TYPE_SKIP:
            row_result.import_type = self.group_type.get(number, row_result.import_type)
