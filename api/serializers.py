import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers import history
from customers.models import VISITOR_IM_ID_MAX_LENGTH, Customer, Tag, VisitorIdentity
from orders.models import ZERO, Order, OrderItem

# The largest amount Order.total (12 digits, 2 decimal places) can store.
MAX_TOTAL = Decimal("9999999999.99")
MAX_ITEMS = 500
MAX_TAGS = 50
RECENT_ORDERS = 10

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def no_control_characters(value):
    # A function rather than an inverse RegexValidator, which the OpenAPI schema would
    # publish as a pattern the value must match.
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError(_("Control characters are not allowed."), code="control_characters")


def key_error(value, max_length):
    """Why a key taken from the URL (external ID, order number, visitor ID) cannot be stored
    as it is, or None. The models strip keys and the databases refuse NUL characters, so
    such a key would be saved under another value, or fail."""
    if len(value) > max_length:
        return _("Ensure this value has at most %(max_length)d characters.") % {
            "max_length": max_length
        }
    if value != value.strip():
        return _("Leading or trailing spaces are not allowed.")
    if CONTROL_CHARACTERS.search(value):
        return _("Control characters are not allowed.")
    return None


def snapshot(instance, fields):
    return {field: getattr(instance, field) for field in fields}


# What an order carries in and out of the API (the number is in the URL when writing).
ORDER_FIELDS = [
    "customer",
    "status",
    "currency",
    "items",
    "shipping_fee",
    "discount",
    "total",
    "placed_at",
    "paid_at",
    "shipped_at",
    "recipient",
    "recipient_phone",
    "shipping_address",
    "carrier",
    "tracking_number",
    "remarks",
]


class TagsField(serializers.ListField):
    child = serializers.CharField(max_length=50, validators=[no_control_characters])

    def to_representation(self, tags):
        return [tag.name for tag in tags.all()]


class CustomerSerializer(serializers.ModelSerializer):
    """A customer as the business system sends it. Fields left out of a PUT keep their
    current value; `tags`, when sent, replaces the customer's tags."""

    tags = TagsField(required=False, max_length=MAX_TAGS)

    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "nickname",
            "gender",
            "phone",
            "email",
            "company",
            "address",
            "qq",
            "wechat",
            "level",
            "tags",
            "remarks",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["external_id", "created_at", "updated_at"]

    def update(self, customer, validated_data):
        # Called for new customers too: the view passes an unsaved Customer with its
        # external ID, so that "create" and "update" are one comparison and one save.
        tags = validated_data.pop("tags", None)
        fields = list(validated_data)
        before = snapshot(customer, fields)
        for field, value in validated_data.items():
            setattr(customer, field, value)
        # Normalise (phone, email) before comparing, or an unchanged phone typed another way
        # would count as a change.
        customer.clean()
        tag_names = sorted(set(tags)) if tags is not None else None
        tags_changed = tag_names is not None and (
            customer._state.adding or tag_names != sorted(t.name for t in customer.tags.all())
        )
        changed = customer._state.adding or tags_changed or snapshot(customer, fields) != before
        if changed:
            customer.save()
        if tags_changed:
            customer.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tag_names])
        return customer


class OrderItemSerializer(serializers.ModelSerializer):
    line_total = serializers.DecimalField(max_digits=None, decimal_places=2, read_only=True)

    class Meta:
        model = OrderItem
        fields = ["product_name", "sku", "quantity", "unit_price", "line_total"]
        extra_kwargs = {
            "quantity": {"min_value": 1, "default": 1},
            "sku": {"default": ""},
            "unit_price": {"min_value": ZERO},
        }


class OrderSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(
        source="customer.external_id",
        read_only=True,
        help_text=_("The customer's external ID."),
    )
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["number", *ORDER_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class VisitorIdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = VisitorIdentity
        fields = ["visitor_im_id", "channel", "bound_via", "first_seen_at", "last_seen_at"]
        read_only_fields = ["bound_via", "first_seen_at", "last_seen_at"]
        extra_kwargs = {
            # Without the model's unique validator: a visitor id already linked is a 409 (to
            # another customer) or nothing to do (to this one), decided by the view.
            "visitor_im_id": {
                "validators": [no_control_characters],
                "max_length": VISITOR_IM_ID_MAX_LENGTH,
            },
        }


class CustomerDetailSerializer(CustomerSerializer):
    visitor_ids = serializers.SerializerMethodField()
    recent_orders = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "visitor_ids", "recent_orders"]

    @extend_schema_field(VisitorIdentitySerializer(many=True))
    def get_visitor_ids(self, customer):
        return VisitorIdentitySerializer(customer.visitor_identities.all(), many=True).data

    @extend_schema_field(OrderSerializer(many=True))
    def get_recent_orders(self, customer):
        orders = customer.orders.select_related("customer").prefetch_related("items")
        return OrderSerializer(orders.order_by("-placed_at")[:RECENT_ORDERS], many=True).data


class OrderUpsertSerializer(serializers.ModelSerializer):
    """An order as the business system sends it. `items` replaces the order's items as a
    whole. The total is derived (items + shipping fee − discount); a `total` that is sent
    is only checked against it."""

    customer = serializers.CharField(
        max_length=128,
        validators=[no_control_characters],
        help_text=_("The customer's external ID; the customer must exist."),
    )
    items = OrderItemSerializer(many=True, allow_empty=False, max_length=MAX_ITEMS)
    total = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        write_only=True,
        help_text=_("Optional. If sent, it must equal items + shipping fee − discount."),
    )

    class Meta:
        model = Order
        fields = ORDER_FIELDS
        extra_kwargs = {
            "shipping_fee": {"min_value": ZERO},
            "discount": {"min_value": ZERO},
            "currency": {
                "validators": [
                    RegexValidator(
                        r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code such as CNY.")
                    )
                ]
            },
        }

    def validate_customer(self, external_id):
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise serializers.ValidationError(
                _("No customer has the external ID “%(external_id)s”: create it first.")
                % {"external_id": external_id}
            )
        return customer

    def validate(self, data):
        current = self.instance
        shipping_fee = data.get("shipping_fee", current.shipping_fee)
        discount = data.get("discount", current.discount)
        subtotal = sum(item["quantity"] * item["unit_price"] for item in data["items"])
        expected = subtotal + shipping_fee - discount
        if expected < ZERO:
            raise serializers.ValidationError(
                {"discount": _("The discount is larger than the items plus shipping.")}
            )
        if expected > MAX_TOTAL:
            raise serializers.ValidationError(
                {"items": _("The order total is larger than %(max)s.") % {"max": MAX_TOTAL}}
            )
        if "total" in data and data["total"] != expected:
            raise serializers.ValidationError(
                {
                    "total": _(
                        "The total does not match the items: expected %(expected)s "
                        "(items + shipping fee − discount)."
                    )
                    % {"expected": expected.quantize(Decimal("0.01"))}
                }
            )
        return data

    def update(self, order, validated_data):
        # Called for new orders too, with an unsaved Order (see CustomerSerializer.update).
        validated_data.pop("total", None)
        items = [
            (item["product_name"], item["sku"], item["quantity"], item["unit_price"])
            for item in validated_data.pop("items")
        ]
        fields = list(validated_data)
        adding = order._state.adding
        before = None if adding else snapshot(order, fields)
        for field, value in validated_data.items():
            setattr(order, field, value)
        current_items = (
            []
            if adding
            else [
                (item.product_name, item.sku, item.quantity, item.unit_price)
                for item in order.items.all()
            ]
        )
        items_changed = items != current_items
        changed = adding or items_changed or snapshot(order, fields) != before
        if not changed:
            return order
        order.save()
        if items_changed:
            # Replaced as a whole: the business system's list is the truth, and item
            # identities are not shared with it. bulk_create skips OrderItem.save(), which
            # would recalculate the total once per item; the history is written with it.
            order.items.all().delete()
            history.bulk_create(
                OrderItem,
                [
                    OrderItem(order=order, product_name=n, sku=s, quantity=q, unit_price=p)
                    for n, s, q, p in items
                ],
            )
            order.recalculate_total()
        return order


class CustomerFilterSerializer(serializers.Serializer):
    phone = serializers.CharField(
        required=False, max_length=32, help_text=_("Exact phone, in any usual notation.")
    )
    email = serializers.CharField(
        required=False, max_length=254, help_text=_("Exact email, case-insensitive.")
    )
    updated_since = serializers.DateTimeField(
        required=False, help_text=_("Only customers changed at or after this time (ISO 8601).")
    )
