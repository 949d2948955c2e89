"""The panel's Jinja2 filters (iframe_panel/jinja_env.py) give what Django's give: the fast paths
for the panel's own date and money formats must not change a character of the page."""

import datetime
from decimal import Decimal

import pytest
from django.template import defaultfilters
from django.utils import timezone, translation
from django.utils.timezone import template_localtime

from iframe_panel import jinja_env

MONEY = [
    Decimal("0"),
    Decimal("0.00"),
    Decimal("0.005"),
    Decimal("0.015"),
    Decimal("1.5"),
    Decimal("999.99"),
    Decimal("1000.00"),
    Decimal("12345.675"),
    Decimal("1234567.89"),
    Decimal("-1234.5"),
    Decimal("9999999999.99"),
    7,
    12345,
]
WHEN = [
    datetime.datetime(2026, 11, 27, 15, 59, 7, 123456, tzinfo=datetime.UTC),
    datetime.datetime(2026, 12, 31, 16, 0, tzinfo=datetime.UTC),  # New Year in Shanghai
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=timezone.get_fixed_timezone(-300)),
]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("value", MONEY)
def test_money_is_formatted_as_django_formats_it(language, value):
    with translation.override(language):
        assert jinja_env.floatformat(value, "2g") == defaultfilters.floatformat(value, "2g")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("value", WHEN)
@pytest.mark.parametrize("format", ["Y-m-d", "Y-m-d H:i", "c", "n月j日"])
def test_dates_are_formatted_as_django_formats_them(language, value, format):
    with translation.override(language):
        expected = defaultfilters.date(template_localtime(value), format)
        assert jinja_env.date(value, format) == expected


def test_a_translation_follows_the_active_language():
    with translation.override("zh-hans"):
        assert jinja_env.gettext("Orders") == "订单"
    with translation.override("en"):
        assert jinja_env.gettext("Orders") == "Orders"
    with translation.override("zh-hans"):
        assert jinja_env.gettext("Orders") == "订单"
