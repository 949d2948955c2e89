"""What the OpenAPI schema says beyond what drf-spectacular reads from the code: the token
scheme, examples (which also lead the schema-driven tests to valid requests) and the
error responses."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.IntegrationTokenAuthentication"
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A token made in the admin: API for the business system › Integration tokens."
            ),
        }


BAD_REQUEST = OpenApiResponse(description=_("Invalid data: the errors by field."))
UNAUTHORIZED = OpenApiResponse(description=_("No token, an unknown token or a revoked token."))
NO_CUSTOMER = OpenApiResponse(description=_("No customer has this external ID."))
CONFLICT = OpenApiResponse(
    description=_("A concurrent request changed the same record; send it again.")
)


def path_parameter(name, description, example):
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        description=description,
        examples=[OpenApiExample(example, value=example)],
    )


EXTERNAL_ID = path_parameter(
    "external_id", _("The customer's user id in the business system."), "U1001"
)
NUMBER = path_parameter("number", _("The order number in the business system."), "SO20260301001")
VISITOR_IM_ID = path_parameter(
    "visitor_im_id", _("Easemob's visitorImId."), "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"
)
CUSTOMER_EXAMPLE = OpenApiExample(
    "customer",
    request_only=True,
    value={
        "name": "张伟",
        "phone": "13800138000",
        "email": "zhangwei@example.com",
        "level": "gold",
        "tags": ["VIP"],
    },
)
ORDER_EXAMPLE = OpenApiExample(
    "order",
    request_only=True,
    value={
        "customer": "U1001",
        "status": "paid",
        "placed_at": "2026-03-01T10:30:00+08:00",
        "shipping_fee": "10.00",
        "discount": "0.00",
        "items": [
            {
                "product_name": "无线蓝牙耳机 Pro",
                "sku": "BT-PRO",
                "quantity": 2,
                "unit_price": "399.00",
            }
        ],
        "total": "808.00",
    },
)
VISITOR_ID_EXAMPLE = OpenApiExample(
    "visitor ID",
    request_only=True,
    value={"visitor_im_id": "webim-visitor-8K2FTG9QTYWRT8EYVJ7F", "channel": "web"},
)
COMMON_ERRORS = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED,
    429: OpenApiResponse(description=_("Too many requests.")),
}
