from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def run(*args):
    out = StringIO()
    call_command("easemob_crypto", *args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.parametrize(
    "plain, cipher",
    [("Jack", "877523f86f18f55e"), ("40", "e86b4e789891107c"), ("man", "d221cba8e6efd0ad")],
)
def test_it_encrypts_and_decrypts_easemobs_vectors(plain, cipher):
    assert run("encrypt", "--key", "12345678", plain) == cipher
    assert run("decrypt", "--key", "123456789", cipher.upper()) == plain


def test_it_uses_the_configured_key(settings):
    settings.EASEMOB_IFRAME_KEY = "12345678abc"
    assert run("encrypt", "Jack") == "877523f86f18f55e"


def test_it_explains_a_value_that_does_not_decrypt():
    with pytest.raises(CommandError, match="does not decrypt with this key"):
        run("decrypt", "--key", "87654321", "877523f86f18f55e")


def test_it_refuses_a_short_key():
    with pytest.raises(CommandError, match="at least 8 bytes"):
        run("encrypt", "--key", "1234", "Jack")


def test_it_needs_a_key(settings):
    settings.EASEMOB_IFRAME_KEY = ""
    with pytest.raises(CommandError, match="No key"):
        run("encrypt", "Jack")
