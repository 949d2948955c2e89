from django.db import IntegrityError, transaction
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import history
from customers.models import VISITOR_IM_ID_MAX_LENGTH, Customer, VisitorIdentity
from customers.phones import normalize_phone
from orders.models import Order

from .schema import (
    COMMON_ERRORS,
    CONFLICT,
    CUSTOMER_EXAMPLE,
    EXTERNAL_ID,
    NO_CUSTOMER,
    NUMBER,
    ORDER_EXAMPLE,
    VISITOR_ID_EXAMPLE,
    VISITOR_IM_ID,
)
from .serializers import (
    CustomerDetailSerializer,
    CustomerFilterSerializer,
    CustomerSerializer,
    OrderSerializer,
    OrderUpsertSerializer,
    VisitorIdentitySerializer,
    key_error,
)

EXTERNAL_ID_MAX_LENGTH = Customer._meta.get_field("external_id").max_length
NUMBER_MAX_LENGTH = Order._meta.get_field("number").max_length


def check_key(name, value, max_length):
    error = key_error(value, max_length)
    if error:
        raise ValidationError({name: [error]})


# The change reason of what the API writes (customers/history.py): an integration is not a
# person, so its token's name says who.
BY_API = gettext_noop("API: %(token)s")


def recorded_by(request):
    return history.recorded_as(BY_API, token=request.auth.name)


def get_customer(external_id):
    check_key("external_id", external_id, EXTERNAL_ID_MAX_LENGTH)
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        raise NotFound(_("No customer has this external ID."))
    return customer


class NeverCached:
    """For every view of the API: its answers carry customers' personal data, of which no
    browser or proxy may keep a copy. Errors included (tests/test_api_headers.py)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response


def concurrent_change():
    return Response(
        {"detail": _("A concurrent request changed the same record; send it again.")},
        status=status.HTTP_409_CONFLICT,
    )


class CustomerPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema(tags=["customers"])
class CustomerList(NeverCached, ListAPIView):
    serializer_class = CustomerSerializer
    pagination_class = CustomerPagination

    @extend_schema(
        parameters=[CustomerFilterSerializer],
        responses={200: CustomerSerializer(many=True), **COMMON_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = CustomerFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        # Oldest change first, so that a business system can page through everything changed
        # since its last sync with `updated_since`.
        customers = Customer.objects.prefetch_related("tags").order_by("updated_at", "pk")
        if "phone" in filters.validated_data:
            phone = normalize_phone(filters.validated_data["phone"])
            customers = customers.filter(phone=phone) if phone else customers.none()
        if "email" in filters.validated_data:
            email = filters.validated_data["email"].strip().lower()
            customers = customers.filter(email=email) if email else customers.none()
        if "updated_since" in filters.validated_data:
            customers = customers.filter(updated_at__gte=filters.validated_data["updated_since"])
        return customers


@extend_schema(tags=["customers"], parameters=[EXTERNAL_ID])
class CustomerDetail(NeverCached, APIView):
    @extend_schema(responses={200: CustomerDetailSerializer, 404: NO_CUSTOMER, **COMMON_ERRORS})
    def get(self, request, external_id):
        customer = get_customer(external_id)
        return Response(CustomerDetailSerializer(customer).data)

    @extend_schema(
        summary=_("Create or update a customer by external ID"),
        request=CustomerSerializer,
        examples=[CUSTOMER_EXAMPLE],
        responses={
            200: CustomerSerializer,
            201: CustomerSerializer,
            409: CONFLICT,
            **COMMON_ERRORS,
        },
    )
    def put(self, request, external_id):
        check_key("external_id", external_id, EXTERNAL_ID_MAX_LENGTH)
        try:
            with transaction.atomic(), recorded_by(request):
                customer = (
                    Customer.objects.select_for_update().filter(external_id=external_id).first()
                )
                created = customer is None
                serializer = CustomerSerializer(
                    customer or Customer(external_id=external_id), data=request.data
                )
                serializer.is_valid(raise_exception=True)
                serializer.save()
        except IntegrityError:
            # Two first PUTs of the same customer at once: the loser hits the unique
            # constraint.
            return concurrent_change()
        return Response(
            serializer.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


@extend_schema(tags=["orders"], parameters=[NUMBER])
class OrderDetail(NeverCached, APIView):
    @extend_schema(
        responses={
            200: OrderSerializer,
            404: OpenApiResponse(description=_("No order has this number.")),
            **COMMON_ERRORS,
        }
    )
    def get(self, request, number):
        check_key("number", number, NUMBER_MAX_LENGTH)
        order = (
            Order.objects.select_related("customer")
            .prefetch_related("items")
            .filter(number=number)
            .first()
        )
        if order is None:
            raise NotFound(_("No order has this number."))
        return Response(OrderSerializer(order).data)

    @extend_schema(
        summary=_("Create or update an order and its items by order number"),
        request=OrderUpsertSerializer,
        examples=[ORDER_EXAMPLE],
        responses={
            200: OrderSerializer,
            201: OrderSerializer,
            409: CONFLICT,
            **COMMON_ERRORS,
        },
    )
    def put(self, request, number):
        check_key("number", number, NUMBER_MAX_LENGTH)
        try:
            with transaction.atomic(), recorded_by(request):
                order = Order.objects.select_for_update().filter(number=number).first()
                created = order is None
                serializer = OrderUpsertSerializer(order or Order(number=number), data=request.data)
                serializer.is_valid(raise_exception=True)
                order = serializer.save()
        except IntegrityError:
            return concurrent_change()
        order = Order.objects.select_related("customer").prefetch_related("items").get(pk=order.pk)
        return Response(
            OrderSerializer(order).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["visitor ids"], parameters=[EXTERNAL_ID])
class CustomerVisitorIds(NeverCached, APIView):
    @extend_schema(
        responses={200: VisitorIdentitySerializer(many=True), 404: NO_CUSTOMER, **COMMON_ERRORS}
    )
    def get(self, request, external_id):
        customer = get_customer(external_id)
        identities = customer.visitor_identities.all()
        return Response(VisitorIdentitySerializer(identities, many=True).data)

    @extend_schema(
        summary=_("Link an Easemob visitor ID to a customer"),
        request=VisitorIdentitySerializer,
        examples=[VISITOR_ID_EXAMPLE],
        responses={
            200: OpenApiResponse(
                VisitorIdentitySerializer, description=_("Already linked to this customer.")
            ),
            201: VisitorIdentitySerializer,
            404: NO_CUSTOMER,
            409: OpenApiResponse(description=_("Already linked to another customer.")),
            **COMMON_ERRORS,
        },
    )
    def post(self, request, external_id):
        customer = get_customer(external_id)
        serializer = VisitorIdentitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visitor_im_id = serializer.validated_data["visitor_im_id"]
        channel = serializer.validated_data.get("channel")
        try:
            with transaction.atomic():
                identity = (
                    VisitorIdentity.objects.select_for_update()
                    .select_related("customer")
                    .filter(visitor_im_id=visitor_im_id)
                    .first()
                )
                if identity is None:
                    identity = VisitorIdentity.objects.create(
                        visitor_im_id=visitor_im_id,
                        customer=customer,
                        channel=channel or VisitorIdentity.Channel.OTHER,
                        bound_via=VisitorIdentity.BoundVia.API,
                    )
                    return Response(
                        VisitorIdentitySerializer(identity).data, status=status.HTTP_201_CREATED
                    )
        except IntegrityError:
            return concurrent_change()
        if identity.customer_id != customer.pk:
            # Moving a visitor silently would show agents the wrong customer's orders; the
            # business system has to unlink it from the other customer first.
            return Response(
                {
                    "detail": _(
                        "This visitor ID is already linked to another customer. Unlink it "
                        "there first."
                    ),
                    "customer": identity.customer.external_id,
                },
                status=status.HTTP_409_CONFLICT,
            )
        if channel and identity.channel != channel:
            identity.channel = channel
            identity.save(update_fields=["channel"])
        return Response(VisitorIdentitySerializer(identity).data)


@extend_schema(tags=["visitor ids"], parameters=[EXTERNAL_ID, VISITOR_IM_ID])
class CustomerVisitorIdDetail(NeverCached, APIView):
    @extend_schema(
        summary=_("Unlink an Easemob visitor ID from a customer"),
        responses={
            204: None,
            404: OpenApiResponse(
                description=_("No such customer, or the visitor ID is not linked to it.")
            ),
            **COMMON_ERRORS,
        },
    )
    def delete(self, request, external_id, visitor_im_id):
        customer = get_customer(external_id)
        check_key("visitor_im_id", visitor_im_id, VISITOR_IM_ID_MAX_LENGTH)
        deleted, _details = customer.visitor_identities.filter(visitor_im_id=visitor_im_id).delete()
        if not deleted:
            raise NotFound(_("This visitor ID is not linked to this customer."))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Swagger UI's own scripts and styles, the init script served by the view itself (the split
# view's ?script), and the schema and "Try it out" requests to this origin: nothing inline,
# nothing from elsewhere.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class ApiDocs(SpectacularSwaggerSplitView):
    """The API's Swagger UI under a Content-Security-Policy that allows no inline code.

    drf-spectacular's split view moves the init script out of the page; our template
    (api/templates/api/swagger_ui.html) moves out the page's few inline style rules.
    """

    template_name = "api/swagger_ui.html"
    # A page to read, nothing else: OPTIONS found no template to render and answered 500.
    http_method_names = ["get", "head"]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response
