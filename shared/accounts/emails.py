"""Email addresses in the one spelling accounts store and look up.

    normalize("  X@ｅxample.COM ")   # "x@example.com"

NFKC (full-width and other compatibility forms fold to their plain letters), then
email-validator (the domain through IDNA, quoted local parts, domain literals and
special-use domains refused), then lower-case. A domain label that mixes scripts, like
a Cyrillic "а" in a Latin name, is refused too: UTS #39's "highly restrictive" profile
(one script per label, or Latin with the Han-based sets of Chinese, Japanese, Korean).
"""
import unicodedata

from confusable_homoglyphs import categories
from email_validator import EmailNotValidError, validate_email

NEUTRAL = {"COMMON", "INHERITED"}  # digits, "-", combining marks: part of any script
CJK_SETS = ({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}, {"LATIN", "HAN", "BOPOMOFO"},
            {"LATIN", "HAN", "HANGUL"})


class InvalidEmail(ValueError):
    """An address that cannot be an account's email."""


def scripts(label):
    """The Unicode scripts of a domain label, leaving out the script-neutral characters."""
    return {categories.alias(char) for char in label} - NEUTRAL


def one_script(label):
    """Whether `label` keeps to one script (or a Han-based CJK set), so no homoglyph mix."""
    found = scripts(label)
    return len(found) <= 1 or any(found <= allowed for allowed in CJK_SETS)


def normalize(value):
    """The stored spelling of an email address; InvalidEmail when it cannot be one."""
    try:
        checked = validate_email(unicodedata.normalize("NFKC", value.strip()),
                                 check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(str(error)) from None
    if not all(one_script(label) for label in checked.domain.split(".")):
        raise InvalidEmail("The domain mixes scripts")
    return checked.normalized.lower()
