"""Django's makemessages, which also reads the panel's Jinja2 templates (iframe_panel/jinja2/).

Django's makemessages parses every .html file as a Django template. It happens to find
`{{ _("Phone") }}` in a Jinja2 template, but not a string with values,
`{{ _("updated %(when)s", when=…) }}`, and would mark those obsolete in django.po. Here Jinja2
itself finds a template's strings, so every one is kept without a hand-kept list to forget.
Django runs an app's command only when the settings load: `make messages` writes `.env` first.
"""

from pathlib import Path

from django.core.management.commands import makemessages
from django.template import engines
from jinja2.ext import extract_from_ast


class JinjaBuildFile(makemessages.BuildFile):
    def preprocess(self):
        # Jinja2 templates live in an app's jinja2/ folder, as Django's Jinja2 backend finds them.
        path = Path(self.path)
        if not self.is_templatized or "jinja2" not in path.parent.parts:
            return super().preprocess()
        source = path.read_text(encoding="utf-8")
        # Python for xgettext, each call on its template line so that "#: file:line" is right.
        lines = [""] * (source.count("\n") + 1)
        for lineno, function, message in extract_from_ast(engines["jinja2"].env.parse(source)):
            messages = message if isinstance(message, tuple) else (message,)
            lines[lineno - 1] += f"{function}({', '.join(map(repr, messages))}) "
        Path(self.work_path).write_text("\n".join(lines), encoding="utf-8")


class Command(makemessages.Command):
    build_file_class = JinjaBuildFile
