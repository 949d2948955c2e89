"""Import and export of customers and their Easemob visitor ids, as CSV or XLSX.

The admin's import/export buttons and the `import_customers` command share these resources:
the command feeds rows through the same fields and widgets, only in bulk, so a file means the
same thing on both paths. The rules:

- Columns are matched by their English or Chinese header (`CUSTOMER_HEADERS`), in any order;
  other columns are ignored. A column that is absent leaves that field alone.
- Rows are matched to customers by `external_id`, which may appear only once in a file: the
  same file imported twice changes nothing. A row without one is matched by our own `id`
  column (exports carry it), so customers created without an external ID import back; a row
  with neither is an error.
- An empty cell clears a text field; for gender, level, dates and references it keeps the
  stored value (a new row gets the default).
- One bad row and nothing is imported; every bad row is reported with its number and why.
"""

import csv
import decimal
import io
from pathlib import Path

import openpyxl
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.resources import Diff
from import_export.results import RowResult

from .models import Customer, VisitorIdentity
from .phones import normalize_phone

# Header → field. Matching ignores case and surrounding spaces; exports use the English names.
CUSTOMER_HEADERS = {
    "external_id": ["业务系统ID", "客户ID", "用户ID", "customUserId", "external id"],
    "name": ["姓名", "名字", "客户姓名", "客户名称"],
    "nickname": ["昵称"],
    "gender": ["性别"],
    "phone": ["手机", "手机号", "手机号码", "电话", "mobile"],
    "email": ["邮箱", "电子邮箱", "e-mail"],
    "company": ["公司", "单位"],
    "address": ["地址"],
    "qq": ["QQ号"],
    "wechat": ["微信", "微信号"],
    "level": ["等级", "会员等级"],
    "remarks": ["备注"],
    # Our own id, exported last so that the business system's columns come first; read only to
    # find the customer of a row without an external ID.
    "id": ["CRM ID"],
}
VISITOR_HEADERS = {
    "visitor_im_id": ["访客ID", "访客IM ID", "visitorImId"],
    "customer_external_id": ["业务系统ID", "客户ID", "external_id", "customer"],
    "channel": ["渠道"],
    "bound_via": ["关联方式"],
    "first_seen_at": ["首次访问", "首次访问时间"],
    "last_seen_at": ["最近访问", "最近访问时间"],
}

# Beyond the model's own labels in both languages: what Chinese spreadsheets commonly say.
CHOICE_ALIASES = {
    "男性": "male",
    "女性": "female",
    "普通": "regular",
    "白银": "silver",
    "黄金": "gold",
    "钻石": "diamond",
    "网页": "web",
    "企业微信": "wecom",
}

DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


def _header_key(header):
    return str(header or "").strip().lower()


def canonical_headers(headers, aliases):
    """The file's headers with every known alias replaced by its field's name."""
    lookup = {}
    for name, names in aliases.items():
        for alias in [name, *names]:
            lookup[_header_key(alias)] = name
    result = []
    seen = {}
    for header in headers:
        name = lookup.get(_header_key(header), str(header or "").strip())
        if name in aliases and name in seen:
            raise ValidationError(
                gettext("The columns “%(first)s” and “%(second)s” both mean %(field)s.")
                % {"first": seen[name], "second": header, "field": name}
            )
        seen[name] = header
        result.append(name)
    return result


def is_blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def is_blank_row(values):
    return all(is_blank(v) for v in values)


def same_moment(a, b):
    """Files carry times to the second; a stored time that agrees to the second is unchanged."""
    if a is None or b is None:
        return a is b
    return a.replace(microsecond=0) == b.replace(microsecond=0)


def row_error(row_number, errors):
    """A one-line description of what is wrong with a row, for the command's report."""
    if isinstance(errors, ValidationError) and hasattr(errors, "error_dict"):
        parts = [
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in errors.message_dict.items()
        ]
    elif isinstance(errors, ValidationError):
        parts = errors.messages
    else:
        parts = [str(errors)]
    return gettext("Row %(row)d (line %(line)d of the file): %(errors)s") % {
        "row": row_number,
        "line": row_number + 1,
        "errors": "; ".join(parts),
    }


class TextWidget(widgets.CharWidget):
    """Text as typed, trimmed. Spreadsheets turn a typed phone or id into a number: undo that."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super().clean(value, row, **kwargs).strip()


class PhoneWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        return normalize_phone(super().clean(value, row, **kwargs))


class EmailWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row, **kwargs).lower()


class ChoiceWidget(widgets.Widget):
    """A choice by its stored value or by its label in English or Chinese (`paid`, 已付款)."""

    def __init__(self, choices, **kwargs):
        self.choices = choices
        self._cache = None
        super().__init__(**kwargs)

    def _lookup(self):
        # Built once: switching languages for every label of every cell costs more than the
        # rest of a row's import.
        if self._cache is not None:
            return self._cache
        lookup = {}
        for value, label in self.choices.choices:
            lookup[value.lower()] = value
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    lookup[str(label).strip().lower()] = value
        for alias, value in CHOICE_ALIASES.items():
            if value in self.choices.values:
                lookup[alias] = value
        self._cache = lookup
        return lookup

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        found = self._lookup().get(str(value).strip().lower())
        if found is None:
            # The choices as the admin shows them, in the user's language: any of them is read.
            labels = gettext(", ").join(str(label) for label in self.choices.labels)
            raise ValueError(
                gettext("“%(value)s” is not one of: %(choices)s.")
                % {"value": value, "choices": labels}
            )
        return found

    def render(self, value, obj=None, **kwargs):
        return value or ""

    def label(self, value):
        """The choice as the admin shows it, in the current language (男, not male)."""
        try:
            return str(self.choices(value).label)
        except ValueError:
            return self.render(value)


class LabelledDiff(Diff):
    """The import preview's cells as the admin's own pages show the values: a choice by its
    label in the user's language. Exports keep the stored values, which read in any language."""

    def __init__(self, resource, instance, new):
        # Diff.__init__ reads the values through Diff itself, not through the subclass.
        super().__init__(resource, instance, new)
        self.left = self.shown_values(resource, instance)

    def compare_with(self, resource, instance):
        self.right = self.shown_values(resource, instance)

    @staticmethod
    def shown_values(resource, instance):
        values = []
        for field in resource.get_import_fields():
            if isinstance(field.widget, ChoiceWidget):
                values.append(field.widget.label(field.get_value(instance)))
            else:
                values.append(field.export(instance))
        return values


class NumberWidget(widgets.DecimalWidget):
    """An amount; `1,299.00` and `¥1299` are read as 1299."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, str):
            value = value.strip().lstrip("¥￥").replace(",", "")
        try:
            return super().clean(value, row, **kwargs)
        except (decimal.InvalidOperation, ValueError):
            raise ValueError(gettext("“%(value)s” is not a number.") % {"value": value}) from None


class CountWidget(NumberWidget):
    def clean(self, value, row=None, **kwargs):
        number = super().clean(value, row, **kwargs)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise ValueError(gettext("“%(value)s” is not a whole number.") % {"value": value})
        return int(number)

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else value


class DateTimeWidget(widgets.DateTimeWidget):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.formats = DATETIME_FORMATS

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, str):
            value = value.strip()
        try:
            return super().clean(value, row, **kwargs)
        except ValueError:
            raise ValueError(
                gettext("“%(value)s” is not a date and time like 2025-03-08 14:30.")
                % {"value": value}
            ) from None


class MomentField(fields.Field):
    """A date and time: an empty cell or the stored time to the second leaves it alone."""

    def __init__(self, attribute, column_name=None, **kwargs):
        super().__init__(attribute, column_name or attribute, DateTimeWidget(), **kwargs)

    def save(self, instance, row, is_m2m=False, **kwargs):
        cleaned = self.clean(row, **kwargs)
        if cleaned is None or same_moment(cleaned, getattr(instance, self.attribute)):
            return
        setattr(instance, self.attribute, cleaned)


class CustomerKeyWidget(widgets.ForeignKeyWidget):
    """A customer by external ID. The import command fills `known` from one query per batch."""

    def __init__(self, **kwargs):
        super().__init__(Customer, "external_id", **kwargs)
        self.known = None

    def clean(self, value, row=None, **kwargs):
        key = TextWidget().clean(value)
        if not key:
            return None
        if self.known is not None:
            customer = self.known.get(key)
        else:
            customer = Customer.objects.filter(external_id=key).first()
        if customer is None:
            raise ValueError(
                gettext("No customer has the external ID “%(key)s”: import the customers first.")
                % {"key": key}
            )
        return customer


def text(attribute, column_name=None):
    return fields.Field(attribute, column_name or attribute, TextWidget())


def keep_if_blank(attribute, widget, column_name=None):
    return fields.Field(attribute, column_name or attribute, widget, saves_null_values=False)


class AllOrNothingResource(resources.ModelResource):
    """Shared import behaviour: header aliases, blank rows skipped, per-row key problems,
    and no partial import."""

    HEADERS = {}
    # Column → label, for columns that are not a field of the model.
    LABELS = {}

    def get_diff_class(self):
        return LabelledDiff

    @classmethod
    def column_label(cls, name):
        """A column's name in the user's language, as the admin labels the field."""
        if name in cls.LABELS:
            return capfirst(str(cls.LABELS[name]))
        try:
            return capfirst(str(cls._meta.model._meta.get_field(name).verbose_name))
        except FieldDoesNotExist:
            return name

    def import_data(self, dataset, *args, rollback_on_validation_errors=True, **kwargs):
        # django-import-export keeps the good rows of a file with invalid ones unless told
        # otherwise, and its admin's confirm step does not tell it: all or nothing, always.
        result = super().import_data(
            dataset, *args, rollback_on_validation_errors=rollback_on_validation_errors, **kwargs
        )
        # For the admin's preview (customers/spreadsheet_admin.py): the columns of the diff and
        # of the invalid rows' values, and the fields that errors are filed under, labelled.
        in_file = set(dataset.headers or [])
        result.columns = [
            {"label": self.column_label(name), "in_file": name in in_file}
            for name in result.diff_headers
        ]
        result.field_labels = {
            field.attribute: self.column_label(field.column_name)
            for field in self.get_import_fields()
        }
        return result

    def before_import(self, dataset, **kwargs):
        dataset.headers = canonical_headers(dataset.headers or [], self.HEADERS)
        rows = [dict(zip(dataset.headers, values, strict=False)) for values in dataset]
        self.row_problems = self.find_row_problems(rows)

    def find_row_problems(self, rows):
        """{row number: ValidationError} for what one row alone cannot tell."""
        return {}

    def import_row(self, row, instance_loader, **kwargs):
        if is_blank_row(row.values()):
            result = self.get_row_result_class()()
            result.import_type = RowResult.IMPORT_TYPE_SKIP
            return result
        return super().import_row(row, instance_loader, **kwargs)

    def before_import_row(self, row, **kwargs):
        problem = self.row_problems.get(kwargs.get("row_number"))
        if problem is not None:
            raise problem


def unique_key_problems(rows, key):
    """Every row needs the key, and a key may appear only once in a file."""
    problems = {}
    first_row = {}
    for number, row in enumerate(rows, 1):
        if is_blank_row(row.values()):
            continue
        value = TextWidget().clean(row.get(key))
        if not value:
            problems[number] = ValidationError(
                {key: gettext("%(column)s is required.") % {"column": key}}
            )
        elif value in first_row:
            problems[number] = ValidationError(
                {
                    key: gettext("“%(value)s” is already on line %(line)d of this file.")
                    % {"value": value, "line": first_row[value] + 1}
                }
            )
        else:
            first_row[value] = number
    return problems


def customer_key_problems(rows):
    """unique_key_problems for customers, where a row without an external ID may instead carry
    the `id` column of our own export: agents create customers without one, and the export of
    those must import back. Such an id must name an existing customer (one query)."""
    keyed = [
        (n, row) for n, row in enumerate(rows, 1) if not TextWidget().clean(row.get("external_id"))
    ]
    ids = {n: TextWidget().clean(row.get("id")) for n, row in keyed}
    wanted = {int(v) for v in ids.values() if v.isdigit()}
    existing = set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    problems = {}
    first_line = {}
    for number, row in enumerate(rows, 1):
        if is_blank_row(row.values()):
            continue
        if number not in ids:
            continue
        value = ids[number]
        if not value:
            message = gettext(
                "external_id is required (or the id of a customer exported from this CRM)."
            )
        elif not value.isdigit() or int(value) not in existing:
            message = gettext(
                "No customer has the id “%(value)s”: a new customer needs an external_id."
            ) % {"value": value}
        elif value in first_line:
            message = gettext("“%(value)s” is already on line %(line)d of this file.") % {
                "value": value,
                "line": first_line[value],
            }
        else:
            first_line[value] = number + 1
            continue
        problems[number] = ValidationError({"external_id": message})
    for number, problem in unique_key_problems(rows, "external_id").items():
        if number not in ids:
            problems[number] = problem
    return problems


class KeyField(fields.Field):
    """The external ID: a row matched by our id with an empty cell leaves the stored one."""

    def save(self, instance, row, is_m2m=False, **kwargs):
        if self.clean(row, **kwargs):
            super().save(instance, row, is_m2m, **kwargs)


class CustomerResource(AllOrNothingResource):
    HEADERS = CUSTOMER_HEADERS

    external_id = KeyField("external_id", "external_id", TextWidget())
    name = text("name")
    nickname = text("nickname")
    gender = keep_if_blank("gender", ChoiceWidget(Customer.Gender))
    phone = fields.Field("phone", "phone", PhoneWidget())
    email = fields.Field("email", "email", EmailWidget())
    company = text("company")
    address = text("address")
    qq = text("qq")
    wechat = text("wechat")
    level = keep_if_blank("level", ChoiceWidget(Customer.Level))
    remarks = text("remarks")
    id = fields.Field("id", "id", CountWidget(), readonly=True)

    LABELS = {"id": _("CRM ID")}

    class Meta:
        model = Customer
        fields = list(CUSTOMER_HEADERS)
        import_id_fields = ["external_id"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        name = _("Customers")

    def find_row_problems(self, rows):
        return customer_key_problems(rows)

    def get_instance(self, instance_loader, row):
        if TextWidget().clean(row.get("external_id")):
            return super().get_instance(instance_loader, row)
        value = TextWidget().clean(row.get("id"))
        return Customer.objects.filter(pk=int(value)).first() if value.isdigit() else None


class VisitorIdentityResource(AllOrNothingResource):
    HEADERS = VISITOR_HEADERS

    visitor_im_id = text("visitor_im_id")
    customer = keep_if_blank("customer", CustomerKeyWidget(), "customer_external_id")
    channel = keep_if_blank("channel", ChoiceWidget(VisitorIdentity.Channel))
    bound_via = fields.Field("bound_via", "bound_via", ChoiceWidget(VisitorIdentity.BoundVia))
    first_seen_at = MomentField("first_seen_at")
    last_seen_at = MomentField("last_seen_at")

    LABELS = {"customer_external_id": _("customer’s external ID")}

    class Meta:
        model = VisitorIdentity
        fields = ["customer" if c == "customer_external_id" else c for c in VISITOR_HEADERS]
        import_id_fields = ["visitor_im_id"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        name = _("Visitor identities")

    def get_import_fields(self):
        # How a visitor was linked is a fact we record, not something a file can claim.
        return [f for f in super().get_import_fields() if f.attribute != "bound_via"]

    def after_init_instance(self, instance, new, row, **kwargs):
        if new:
            instance.bound_via = VisitorIdentity.BoundVia.IMPORT

    def find_row_problems(self, rows):
        return unique_key_problems(rows, "visitor_im_id")


# Tried in this order when the encoding is not given: Excel's "CSV UTF-8" (with a byte-order
# mark) and plain UTF-8 decode as utf-8-sig; Excel's plain "CSV" on a Chinese Windows is GBK,
# which GB18030 contains. Almost no GBK text is valid UTF-8, so the order is safe.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class UndecodableFile(ValueError):
    pass


def decode_csv(data, encoding=None):
    """The text of a CSV file's bytes, in `encoding` or in the first of CSV_ENCODINGS that fits."""
    for candidate in [encoding] if encoding else CSV_ENCODINGS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise UndecodableFile(
                gettext("“%(encoding)s” is not the name of an encoding.") % {"encoding": candidate}
            ) from None
    raise UndecodableFile(
        gettext(
            "The file is neither UTF-8 nor GBK (GB18030) text. In Excel, save it as "
            "“CSV UTF-8” or as an .xlsx workbook."
        )
    )


class ExcelCSV(base_formats.CSV):
    """CSV as Excel reads and writes it. The upload is read as bytes and decoded by decode_csv,
    like the import commands do; the export starts with a UTF-8 byte-order mark, without which
    Excel reads UTF-8 as the Windows code page and shows Chinese as garbage."""

    CONTENT_TYPE = "text/csv; charset=utf-8"

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            # Whatever encoding the admin passes in: the file's bytes tell.
            in_stream = decode_csv(in_stream)
        return super().create_dataset(in_stream, **kwargs)

    def export_data(self, dataset, **kwargs):
        return ("\ufeff" + super().export_data(dataset, **kwargs)).encode("utf-8")


def read_table(path, encoding=None):
    """(headers, rows) of the first sheet of an .xlsx file or of a .csv file.

    A CSV saved by Excel on a Chinese Windows is GB18030 (GBK), not UTF-8: without an explicit
    encoding both are tried (decode_csv).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            table = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
        finally:
            workbook.close()
    elif suffix == ".csv":
        try:
            text = decode_csv(Path(path).read_bytes(), encoding)
        except UndecodableFile:
            raise UndecodableFile(
                gettext("The file is neither UTF-8 nor GBK text: pass --encoding.")
            ) from None
        table = list(csv.reader(io.StringIO(text, newline="")))
    else:
        raise ValueError(gettext("Only .csv and .xlsx files can be imported."))
    if not table:
        raise ValueError(gettext("The file is empty."))
    headers = [str(h).strip() if h is not None else "" for h in table[0]]
    width = len(headers)
    rows = [(row + [None] * width)[:width] for row in table[1:]]
    return headers, rows
