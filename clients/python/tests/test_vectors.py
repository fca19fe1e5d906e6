"""The shared vectors generated from the C++ reference (clients/testdata/flag_vectors.json)."""
import json
from pathlib import Path

import pytest

from agentrollout_flags import FlagState, bucket, is_on, murmur3_x86_32, parse_flags

VECTORS = json.loads((Path(__file__).parents[2] / "testdata" / "flag_vectors.json").read_text("utf-8"))


def state(flag):
    return FlagState(flag["key"], flag["enabled"], flag["percentage"],
                     tuple(flag["enabledTenants"]), tuple(flag["disabledTenants"]))


def test_there_are_vectors():
    assert len(VECTORS["murmur3"]) >= 16
    assert len(VECTORS["cases"]) >= 100
    assert len(VECTORS["documents"]) >= 15


@pytest.mark.parametrize("vector", VECTORS["murmur3"], ids=lambda v: repr(v["input"])[:40])
def test_murmur3_matches_the_header(vector):
    assert murmur3_x86_32(vector["input"]) == vector["hash"]


def test_bucket_and_is_on_match_the_header():
    for vector in VECTORS["cases"]:
        flag = state(vector["flag"])
        assert bucket(flag.key, vector["tenant"]) == vector["bucket"], vector
        assert is_on(flag, vector["tenant"]) == vector["isOn"], vector


@pytest.mark.parametrize("vector", VECTORS["documents"], ids=lambda v: v["document"][:40])
def test_parse_flags_keeps_and_drops_what_the_header_does(vector):
    parsed = parse_flags(vector["document"])
    assert sorted(parsed.flags.values(), key=lambda f: f.key) == [state(f) for f in vector["flags"]]
    assert len(parsed.errors) == vector["errorCount"], parsed.errors


def test_a_missing_flag_is_off():
    assert is_on(None, "t-1") is False


def test_murmur3_hashes_bytes_and_honours_the_seed():
    assert murmur3_x86_32(b"hello") == murmur3_x86_32("hello")
    assert murmur3_x86_32("", 1) == 0x514E28B7  # reference value of the empty input, seed 1


def test_nan_and_invalid_utf8_are_not_json():
    assert parse_flags('{"a": {"enabled": true, "percentage": NaN}}').errors == ["flags document: not valid JSON"]
    assert parse_flags(b'{"a\xff": {}}').errors == ["flags document: not valid JSON"]
