"""What `make run` does before starting the server: migrate, seed a fresh database once, make sure
an admin account exists, and print where everything is."""

import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from customers.models import Customer, VisitorIdentity


class Command(BaseCommand):
    help = "Prepare a local installation: migrate, demo data on first run, admin account, URLs."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        call_command("migrate", interactive=False, verbosity=0)
        User = get_user_model()
        fresh = (
            not Customer.objects.exists() and not User.objects.filter(is_superuser=True).exists()
        )
        if fresh:
            call_command("seed_demo", stdout=self.stdout)

        password = None
        if not User.objects.filter(is_superuser=True).exists():
            # A random password, shown once: a fixed default would be the first thing tried.
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)

        base_url = base_url.rstrip("/")
        lines = [
            "",
            "Customer service CRM is starting.",
            f"  Admin:           {base_url}/admin/",
        ]
        if password:
            lines.append(f"    user admin, password {password}   (shown only this once)")
        else:
            lines.append("    forgot the password? .venv/bin/python manage.py changepassword admin")
        production_token = secrets.token_urlsafe(24)
        example = VisitorIdentity.objects.order_by("pk").first()
        example_query = urlencode(
            {"visitorImId": example.visitor_im_id if example else "webim-visitor-EXAMPLE"}
        )
        lines += [
            f"  Panel (local):   {base_url}/panel/{settings.PANEL_TOKEN}/?{example_query}",
            # The local token is in .env, which is not for production: a fresh one to use there.
            f"  For production:  PANEL_TOKEN={production_token}",
            f"    and paste into Easemob: https://YOUR-HOST/panel/{production_token}/",
            "    (Easemob needs a public HTTPS address: see README, 'Connect to Easemob'.)",
            "",
        ]
        if settings.SIMULATOR_ENABLED:
            lines.insert(-1, f"  Simulator:       {base_url}/simulator/")
        self.stdout.write("\n".join(lines))
