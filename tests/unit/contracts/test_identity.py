"""The identity-key rule, which ingest writes by and support and the status API look up by."""

from __future__ import annotations

from libs.contracts.identity import email_key, identity_keys, stripe_key


def test_emails_match_whatever_their_case_and_surrounding_blanks() -> None:
    assert email_key(" Jane.Doe@Example.COM\n") == email_key("jane.doe@example.com")


def test_the_stripe_customer_decides_before_the_email() -> None:
    assert identity_keys("cus_1", "a@b.co") == [stripe_key("cus_1"), email_key("a@b.co")]
    assert identity_keys(None, "a@b.co") == [email_key("a@b.co")]
    assert identity_keys("cus_1", None) == [stripe_key("cus_1")]
    assert identity_keys(None, "") == []
