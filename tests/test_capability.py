"""Data-plane capabilities (fs3/_capability.py): what verifies, and every way one does not."""

import pytest

from fs3 import _capability as cap

NOW = 1_800_000_000.0


def keys(secret=b"s" * 32):
    return cap.CapabilityKeys(lambda: secret)


def test_a_capability_verifies_with_the_keys_that_signed_it():
    raw = cap.sign(keys(), cap.READ, 42, 0, 1234, now=NOW)
    assert len(raw) == cap.SIZE
    got = cap.verify(keys(), raw, now=NOW + 1)
    assert (got.access, got.inode, got.session, got.uid) == (cap.READ, 42, 0, 1234)
    assert got.expiry == int(NOW + cap.LIFETIME)
    assert cap.fields(raw) == got  # a client reads the same fields without the keys


def test_another_clusters_capability_is_forged():
    raw = cap.sign(keys(b"x" * 32), cap.READ, 42, 0, 0, now=NOW)
    with pytest.raises(ValueError, match="forged"):
        cap.verify(keys(), raw, now=NOW)


@pytest.mark.parametrize("field_at", [1, 6, 14, 22, 26])  # access, inode, session, uid, expiry
def test_changing_any_field_breaks_the_signature(field_at):
    raw = bytearray(cap.sign(keys(), cap.READ, 42, 7, 1234, now=NOW))
    raw[field_at] ^= 2
    with pytest.raises(ValueError, match="forged|unknown access"):
        cap.verify(keys(), bytes(raw), now=NOW)


def test_an_expired_capability_verifies_only_for_renewal():
    raw = cap.sign(keys(), cap.WRITE, 42, 7, 1234, now=NOW)
    later = NOW + cap.LIFETIME + 5
    with pytest.raises(ValueError, match="expired"):
        cap.verify(keys(), raw, now=later)
    assert cap.verify(keys(), raw, now=later, expired_ok=True).session == 7


def test_keys_rotate_with_an_overlap_then_retire():
    raw = cap.sign(keys(), cap.READ, 42, 0, 0, now=NOW)
    next_period = (NOW // cap.KEY_PERIOD + 1) * cap.KEY_PERIOD + 1
    assert cap.verify(keys(), raw, now=next_period, expired_ok=True).inode == 42  # the overlap
    with pytest.raises(ValueError, match="retired key"):
        cap.verify(keys(), raw, now=next_period + cap.KEY_PERIOD, expired_ok=True)
    assert cap.key_id(next_period) == cap.key_id(NOW) + 1


@pytest.mark.parametrize("raw", [b"", b"\x01" * 10, b"\x09" + b"\0" * (cap.SIZE - 1)])
def test_malformed_capabilities_are_refused(raw):
    with pytest.raises(ValueError, match="malformed|unknown"):
        cap.verify(keys(), raw, now=NOW)


def test_a_node_without_the_secret_verifies_nothing():
    raw = cap.sign(keys(), cap.READ, 42, 0, 0, now=NOW)
    with pytest.raises(ValueError, match="no cluster secret"):
        cap.verify(keys(b""), raw, now=NOW)
