"""Short references a reporter can quote (`FAUX R7K2`), derived from a row id.

An odd multiplier modulo 32**k is a bijection, so refs are unique by construction
(no retry loop) yet do not reveal how many reports the gateway holds.
"""

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: easy to read back on a basic phone
_MULTIPLIER = 0x9E3779B1


def encode_ref(row_id: int, prefix: str = "R", min_digits: int = 3) -> str:
    digits = min_digits
    while row_id >= 32**digits:
        digits += 1
    value = (row_id * _MULTIPLIER) % (32**digits)
    chars = []
    for _ in range(digits):
        value, rem = divmod(value, 32)
        chars.append(ALPHABET[rem])
    return prefix + "".join(reversed(chars))


def normalise_ref(text: str) -> str:
    return text.strip().upper()
