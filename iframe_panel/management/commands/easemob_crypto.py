"""Encrypt or decrypt a value the way Easemob does, to check an iframe key by hand.

python manage.py easemob_crypto encrypt --key 12345678 Jack   ->  877523f86f18f55e
python manage.py easemob_crypto decrypt --key 12345678 877523f86f18f55e   ->  Jack
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from iframe_panel import crypto


class Command(BaseCommand):
    help = "Encrypt or decrypt a value with Easemob's iframe DES scheme (to check a key)."

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["encrypt", "decrypt"])
        parser.add_argument("value")
        parser.add_argument(
            "--key",
            help="The key typed into Easemob (default: EASEMOB_IFRAME_KEY from the settings).",
        )

    def handle(self, *args, operation, value, key, **options):
        key = key if key is not None else settings.EASEMOB_IFRAME_KEY
        if not key:
            raise CommandError("No key: pass --key or set EASEMOB_IFRAME_KEY.")
        try:
            if operation == "encrypt":
                result = crypto.encrypt(value, key)
            else:
                result = crypto.decrypt(value, key)
        except crypto.DecryptError as error:
            raise CommandError(
                f"{value!r} does not decrypt with this key ({error}). Is it the same key as "
                "in Easemob's iframe settings?"
            ) from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(result)
