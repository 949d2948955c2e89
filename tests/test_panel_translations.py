"""The panel's Jinja2 templates keep their strings in Django's catalog."""

from django.core.management import call_command
from django.template import engines
from django.utils import translation
from jinja2.ext import extract_from_ast


def test_it_translates_every_string_of_the_panel_templates():
    jinja = engines["jinja2"]
    templates = sorted(path for folder in jinja.template_dirs for path in folder.rglob("*.html"))
    assert templates
    untranslated = []
    with translation.override("zh-hans"):
        for template in templates:
            source = template.read_text(encoding="utf-8")
            for _lineno, _function, message in extract_from_ast(jinja.env.parse(source)):
                # With values, `_("updated %(when)s", when=…)` comes as ("updated %(when)s", None).
                msgid = message[0] if isinstance(message, tuple) else message
                if translation.gettext(msgid) == msgid:
                    untranslated.append(f"{template.name}: {msgid}")
    assert untranslated == []


def test_it_finds_the_strings_of_a_jinja2_template_for_makemessages(
    tmp_path, monkeypatch, settings
):
    page = tmp_path / "shop" / "jinja2" / "page.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<h1>{{ _("Orders") }}</h1>\n<p>{{ _("updated %(when)s", when=when) }}</p>\n',
        encoding="utf-8",
    )
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)

    call_command("makemessages", locale=["zh_Hans"], verbosity=0)

    po = (tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text()
    assert '#: shop/jinja2/page.html:1\nmsgid "Orders"' in po
    assert '#: shop/jinja2/page.html:2\n#, python-format\nmsgid "updated %(when)s"' in po
