"""The admin's import and export buttons, made for files that go through Excel.

django-import-export reads an upload as UTF-8 and answers anything else with an English
exception name; it writes CSV without a byte-order mark, which Excel on Windows reads as the
local code page; and its preview hides a row's errors behind a hover, numbers rows from the
first data row and shows the columns and values as stored. Here: uploads are decoded like the
import commands decode files (UTF-8 with or without a BOM, else GBK/GB18030), CSV exports
start with a BOM, and the preview (admin/import_export/spreadsheet_import.html) shows every
problem inline, with the file's line numbers and the columns and choices in the user's language.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from import_export.forms import SelectableFieldsExportForm

from . import history
from .resources import ExcelCSV, UndecodableFile

# The change reason of what the admin's import writes, beside the user who imported.
BY_ADMIN_IMPORT = gettext_noop("Imported from a file in the admin")


def file_line(row_number):
    """The line of the file a data row is on: the header is line 1."""
    return row_number + 1


def import_preview(result):
    """What the preview template shows: the file's problems, then its rows, by line."""
    labels = result.field_labels
    invalid = []
    for row in result.invalid_rows:
        errors = [
            (labels.get(field, field), messages)
            for field, messages in row.field_specific_errors.items()
        ]
        if row.non_field_specific_errors:
            errors.append(("", row.non_field_specific_errors))
        # The values are those of the diff's columns, "---" where the file has no such column.
        cells = [
            {"value": value, "in_file": column["in_file"]}
            for value, column in zip(row.values, result.columns, strict=False)
        ]
        invalid.append({"line": file_line(row.number), "errors": errors, "cells": cells})
    failed = [
        {"line": file_line(error.number or number), "message": str(error.error)}
        for number, errors in result.row_errors()
        for error in errors
    ]
    rows = [
        {"line": file_line(number), "row": row}
        for number, row in enumerate(result.rows, 1)
        if row.diff is not None and row.import_type in row.valid_import_types
    ]
    return {
        "columns": result.columns,
        "base_errors": [str(error.error) for error in result.base_errors],
        "failed": failed,
        "invalid": invalid,
        "rows": rows,
    }


class LabelledExportForm(SelectableFieldsExportForm):
    """The export screen's checkboxes name each column in the user's language, then as the
    file's header (the library shows "External Id", "Qq", "Wechat")."""

    def _get_field_label(self, resource, field_name):
        field = resource.fields.get(field_name)
        column = field.column_name if field else field_name
        return _("%(label)s (%(column)s)") % {
            "label": resource.column_label(column),
            "column": column,
        }


class SpreadsheetImportExportMixin(ImportExportMixin):
    export_form_class = LabelledExportForm
    import_template_name = "admin/import_export/spreadsheet_import.html"
    # Excel's CSV in place of the library's; the other formats as they are.
    formats = [
        ExcelCSV if format_class is base_formats.CSV else format_class
        for format_class in base_formats.DEFAULT_FORMATS
    ]

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, UndecodableFile):
            form.add_error("import_file", str(e))
        else:
            form.add_error(
                "import_file",
                _(
                    "This file could not be read as the chosen format. Choose the format the "
                    "file was saved in (csv or xlsx)."
                ),
            )

    def process_dataset(self, dataset, form, request, **kwargs):
        with history.recorded_as(BY_ADMIN_IMPORT, user=request.user):
            return super().process_dataset(dataset, form, request, **kwargs)

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        result = response.context_data.get("result")
        if result is not None:
            response.context_data["preview"] = import_preview(result)
        return response
