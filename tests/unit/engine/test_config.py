"""Configuration: defaults load, and every kind of mistake names file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiesu.engine.config import ConfigError, JiesuConfig, load_config

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jiesu.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configuration_is_valid() -> None:
    config = load_config(REPO / "sip_config" / "jiesu.toml")
    assert config.gateway.host == "127.0.0.1"
    assert config.ingest.port != config.gateway.port


def test_values_override_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            'hotline = "0571-12345"\n[gateway]\nport = 9000\nallowed_origins = ["https://x"]\n'
            '[storage]\nsynchronous = "NORMAL"\n',
        )
    )
    assert config.hotline == "0571-12345"
    assert config.gateway.port == 9000
    assert config.gateway.allowed_origins == ("https://x",)
    assert config.gateway.max_message_bytes == JiesuConfig().gateway.max_message_bytes
    assert config.storage.synchronous == "NORMAL"
    assert config.source == tmp_path / "jiesu.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[gateway]\nport = "80a"\n', "gateway.port: expected an integer, got '80a'"),
        ("[gateway]\nport = 70000\n", "gateway.port: expected an integer 0-65535, got 70000"),
        ("[gateway]\nport = true\n", "gateway.port: expected an integer"),
        ("[gateway]\nprot = 1\n", "gateway.prot: unknown key"),
        ("[gatway]\n", "gatway: unknown key"),
        ("gateway = 3\n", "gateway: expected a table [gateway]"),
        (
            "[gateway]\nallowed_origins = [1]\n",
            "gateway.allowed_origins: expected a list of strings",
        ),
        ('[storage]\nsynchronous = "OFF"\n', "storage.synchronous: expected one of 'FULL'"),
        ('[gateway]\nhost = ""\n', "gateway.host: expected a non-empty string"),
        ("[ingest]\nhello_timeout_s = 0\n", "ingest.hello_timeout_s: expected a number 0.1-300"),
        ("[gateway\n", "not valid TOML"),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
