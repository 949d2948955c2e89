import pytest

from iframe_panel.crypto import DecryptError, decrypt, encrypt

# Easemob's documented vectors (key 12345678); DES only reads a key's first 8 bytes, so the
# key typed into Easemob, 123456789, gives the same ciphertext.
VECTORS = [("Jack", "877523f86f18f55e"), ("40", "e86b4e789891107c"), ("man", "d221cba8e6efd0ad")]
KEYS = ["12345678", "123456789"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("plaintext", "ciphertext"), VECTORS)
def test_it_encrypts_easemob_vectors(key, plaintext, ciphertext):
    assert encrypt(plaintext, key) == ciphertext


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("plaintext", "ciphertext"), VECTORS)
def test_it_decrypts_easemob_vectors(key, plaintext, ciphertext):
    assert decrypt(ciphertext, key) == plaintext


def test_it_accepts_upper_case_hex():
    assert decrypt("877523F86F18F55E", "123456789") == "Jack"


def test_it_ignores_surrounding_whitespace():
    assert decrypt(" 877523f86f18f55e\n", "123456789") == "Jack"


def test_it_writes_lower_case_hex():
    ciphertext = encrypt("Jack", "123456789")
    assert ciphertext == ciphertext.lower()


def test_it_round_trips_several_blocks():
    plaintext = "customUserId=U1001&phone=13800138000&level=gold"
    ciphertext = encrypt(plaintext, "123456789")
    assert len(ciphertext) == 16 * 6  # 47 bytes padded to 48
    assert decrypt(ciphertext, "123456789") == plaintext


def test_it_adds_a_whole_padding_block_to_a_full_block():
    ciphertext = encrypt("12345678", "123456789")
    assert len(ciphertext) == 32
    assert decrypt(ciphertext, "123456789") == "12345678"


def test_it_round_trips_chinese_text():
    plaintext = "张伟，杭州市西湖区文三路478号"
    ciphertext = encrypt(plaintext, "123456789")
    assert decrypt(ciphertext, "123456789") == plaintext


def test_it_uses_the_first_8_bytes_of_a_chinese_key():
    # "加密密钥" is 12 bytes in UTF-8: only its first 8 count, as with Java's DESKeySpec.
    assert encrypt("Jack", "加密密钥abc") == encrypt("Jack", "加密密钥xyz")
    assert encrypt("Jack", "加密密钥abc") != encrypt("Jack", "加密钥钥abc")


def test_it_rejects_a_wrong_key():
    with pytest.raises(DecryptError):
        decrypt("877523f86f18f55e", "87654321")


def test_it_rejects_non_hex():
    with pytest.raises(DecryptError):
        decrypt("zz7523f86f18f55e", "123456789")


def test_it_rejects_plaintext_that_looks_like_hex():
    # A 16-digit number is valid hex of one block, but its padding breaks once decrypted.
    with pytest.raises(DecryptError):
        decrypt("1380013800012345", "123456789")


def test_it_rejects_odd_length():
    with pytest.raises(DecryptError):
        decrypt("877523f86f18f55", "123456789")


def test_it_rejects_a_partial_block():
    with pytest.raises(DecryptError):
        decrypt("877523f86f18f55e8775", "123456789")


@pytest.mark.parametrize("ciphertext", ["", "   "])
def test_it_rejects_empty(ciphertext):
    with pytest.raises(DecryptError):
        decrypt(ciphertext, "123456789")


def test_it_refuses_to_encrypt_with_a_key_shorter_than_8_bytes():
    with pytest.raises(ValueError, match="8 bytes"):
        encrypt("Jack", "1234567")


def test_it_refuses_to_decrypt_with_a_key_shorter_than_8_bytes():
    with pytest.raises(ValueError):
        decrypt("877523f86f18f55e", "1234567")


def test_it_counts_key_length_in_bytes_not_characters():
    # Two Chinese characters are 6 bytes: too short, although "加密" looks like a key.
    with pytest.raises(ValueError, match="8 bytes"):
        encrypt("Jack", "加密")
