"""The DES codec Easemob uses for iframe parameters.

Easemob's server is Java: `DESKeySpec` takes the first 8 bytes of the key, the cipher is
"DES" (which Java expands to DES/ECB/PKCS5Padding), and the ciphertext travels as hex.
DES is weak by today's standards; it is what Easemob speaks, so it is what we decrypt.
"""

import binascii

from Crypto.Cipher import DES
from Crypto.Util.Padding import pad, unpad


class DecryptError(ValueError):
    """The value is not ciphertext produced with this key."""


def _cipher(key: str):
    key_bytes = key.encode("utf-8")
    if len(key_bytes) < 8:
        raise ValueError("An Easemob iframe key needs at least 8 bytes.")
    # ECB is Easemob's choice, not ours: each 8-byte block is encrypted on its own.
    return DES.new(key_bytes[:8], DES.MODE_ECB)  # noqa: S304


def encrypt(plaintext: str, key: str) -> str:
    data = pad(plaintext.encode("utf-8"), DES.block_size)  # PKCS#5 is PKCS#7 on 8-byte blocks
    return _cipher(key).encrypt(data).hex()


def decrypt(ciphertext: str, key: str) -> str:
    text = ciphertext.strip()
    if not text or len(text) % 16:
        raise DecryptError("not a whole number of DES blocks in hex")
    try:
        data = binascii.unhexlify(text)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("not hexadecimal") from exc
    try:
        plain = unpad(_cipher(key).decrypt(data), DES.block_size)
        return plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        # Wrong key, or plaintext that merely looks like hex: the padding or the UTF-8 breaks.
        raise DecryptError("does not decrypt with this key") from exc
