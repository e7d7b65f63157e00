"""Secret references: which values are references, how they resolve, and how a collector keeps the
reference (not the value) in what history stores and messages carry."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, SecretBytes, SecretStr

from harvester.collector import Collector
from harvester.errors import ConfigError, ParamsError
from harvester.failure_text import MASK
from harvester.secret_refs import MAX_FILE_BYTES, SecretReferenceError, is_reference, resolve, unescape


class Keyed(Collector):
    name = "keyed_ref_test"

    class Params(BaseModel):
        key: SecretStr
        salt: SecretBytes | None = None
        region: str = "eu"

    def collect(self) -> str:
        return self.params.key.get_secret_value()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${API_KEY}", True),
        ("${_x9}", True),
        ("${file:/run/secrets/key}", True),
        ("${file:relative/key.txt}", True),
        (b"${API_KEY}", True),
        ("$API_KEY", False),
        ("${9LIVES}", False),
        ("${API-KEY}", False),
        ("prefix ${API_KEY}", False),
        ("${API_KEY} suffix", False),
        ("$${API_KEY}", False),
        ("${file:}", False),
        ("${}", False),
        ("hunter22", False),
        (None, False),
        (42, False),
    ],
)
def test_only_a_whole_env_or_file_reference_is_one(value, expected):
    assert is_reference(value) is expected


def test_an_env_reference_reads_the_environment_given():
    assert resolve("${API_KEY}", {"API_KEY": "s3cret-value"}) == "s3cret-value"


@pytest.mark.parametrize(("environ", "state"), [({}, "is not set"), ({"API_KEY": ""}, "is empty")])
def test_an_unset_or_empty_variable_is_a_config_error_naming_the_reference(environ, state):
    with pytest.raises(SecretReferenceError, match=rf"\$\{{API_KEY\}}: environment variable API_KEY {state}") as err:
        resolve("${API_KEY}", environ)
    assert isinstance(err.value, ConfigError)


def test_a_file_reference_reads_the_file_without_its_trailing_newline(tmp_path):
    (tmp_path / "key").write_text("file-secret\n")
    (tmp_path / "crlf").write_bytes(b"crlf-secret\r\n")
    (tmp_path / "inner").write_text("two\nlines")
    assert resolve(f"${{file:{tmp_path / 'key'}}}") == "file-secret"
    assert resolve(f"${{file:{tmp_path / 'crlf'}}}") == "crlf-secret"
    assert resolve(f"${{file:{tmp_path / 'inner'}}}") == "two\nlines"


def test_a_missing_empty_or_huge_file_fails_naming_the_reference_only(tmp_path):
    missing = f"${{file:{tmp_path / 'nope'}}}"
    with pytest.raises(SecretReferenceError, match="No such file") as err:
        resolve(missing)
    assert missing in str(err.value)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretReferenceError, match="the file is empty"):
        resolve(f"${{file:{tmp_path / 'empty'}}}")
    (tmp_path / "big").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(SecretReferenceError, match="larger than") as err:
        resolve(f"${{file:{tmp_path / 'big'}}}")
    assert "xxxx" not in str(err.value)


def test_a_directory_is_not_a_secret_file(tmp_path):
    with pytest.raises(SecretReferenceError, match=r"\$\{file:"):
        resolve(f"${{file:{tmp_path}}}")


def test_resolve_refuses_what_is_not_a_reference():
    with pytest.raises(SecretReferenceError, match="not a secret reference"):
        resolve("hunter22")


def test_unescape_turns_double_dollar_into_literal_text():
    assert unescape("$${API_KEY}") == "${API_KEY}"
    assert unescape("${API_KEY}") == "${API_KEY}"
    assert unescape("plain") == "plain"


def test_a_reference_is_kept_in_history_and_messages_and_resolved_only_when_asked(monkeypatch):
    monkeypatch.setenv("KEYED_TEST_KEY", "the-real-key")
    collector = Keyed(key="${KEYED_TEST_KEY}")
    assert collector.secret_references == {"key": "${KEYED_TEST_KEY}"}
    assert collector.redacted_params() == {"key": "${KEYED_TEST_KEY}", "salt": None, "region": "eu"}
    assert collector.wire_params()["key"] == "${KEYED_TEST_KEY}"
    assert collector.secret_values() == []  # a reference is no secret: errors naming it stay readable
    collector.resolve_secrets()
    assert collector.run() == "the-real-key"
    # after resolving, what leaves the process is still the reference
    assert collector.redacted_params()["key"] == "${KEYED_TEST_KEY}"
    assert collector.wire_params()["key"] == "${KEYED_TEST_KEY}"
    assert "the-real-key" in collector.secret_values()  # so failure text masks it


def test_a_literal_secret_is_masked_in_history_and_revealed_in_messages():
    collector = Keyed(key="literal-key", salt=b"${SALT}")
    assert collector.redacted_params()["key"] == MASK
    assert collector.wire_params()["key"] == "literal-key"
    assert collector.secret_references == {"salt": "${SALT}"}
    assert Keyed.masked_secrets(collector.redacted_params()) == ["key"]
    assert Keyed.masked_secrets(Keyed(key="${K}").redacted_params()) == []


def test_bytes_references_resolve_too():
    collector = Keyed(key="${K}", salt=b"${file:/nonexistent/salt}")
    with pytest.raises(SecretReferenceError, match=r"\$\{file:/nonexistent/salt\}"):
        collector.resolve_secrets({"K": "k"})
    collector = Keyed(key="${K}", salt=b"${S}")
    collector.resolve_secrets({"K": "k", "S": "salty"})
    assert collector.params.salt.get_secret_value() == b"salty"


def test_an_escaped_literal_becomes_the_literal_text_at_run_time():
    collector = Keyed(key="$${NOT_A_REF}")
    assert collector.secret_references == {}
    collector.resolve_secrets({})
    assert collector.run() == "${NOT_A_REF}"


def test_a_resolved_value_is_validated_like_a_given_one():
    class Short(Collector):
        name = "short_ref_test"

        class Params(BaseModel):
            key: SecretStr = Field(max_length=8)

    collector = Short(key="${K}")
    collector.resolve_secrets({"K": "v" * 8})
    assert collector.params.key.get_secret_value() == "v" * 8
    with pytest.raises(ParamsError, match="key: Value should have at most 8 items") as err:
        Short(key="${K}").resolve_secrets({"K": "w" * 9})
    assert "wwww" not in str(err.value)


def test_masked_params_masks_literal_secrets_and_keeps_references():
    shown = Keyed.masked_params({"key": "literal", "salt": "${file:/s}", "region": "us"})
    assert shown == {"key": MASK, "salt": "${file:/s}", "region": "us"}
    assert Keyed.masked_params({"key": None}) == {"key": None}


def test_a_member_given_its_parents_resolved_secret_carries_the_parents_reference():
    parent = Keyed(key="${PARENT_KEY}")
    parent.resolve_secrets({"PARENT_KEY": "shared-value"})
    member = Keyed(key=parent.params.key, region="us")
    other = Keyed(key="another-literal")
    member.adopt_references(parent)
    other.adopt_references(parent)
    assert member.wire_params()["key"] == "${PARENT_KEY}"
    assert member.redacted_params()["key"] == "${PARENT_KEY}"
    assert other.wire_params()["key"] == "another-literal"
