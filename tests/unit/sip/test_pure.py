"""Unit tests of the SIP door's pure parts: routing, request sanity, RTP/pcap writer, worker
settings and the [sip] configuration checks."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import numpy as np
import pytest

from jiesu.codecs.g711 import ulaw_decode
from jiesu.engine.audio import Leg
from jiesu.engine.config import ConfigError, load_config
from jiesu.engine.sip.recorder import LegRecorder, purge_old_recordings
from jiesu.engine.sip.request_gate import find_msg_buf_offset, find_packet_offset
from jiesu.engine.sip.routing import RoutingRules, in_office_hours, request_uri, route, sip_user
from jiesu.engine.sip.rtpfile import g711_packets, pcap_bytes
from jiesu.engine.sip.sanity import check_request
from jiesu.engine.sip.settings import WorkerSettings

NOON = dt.time(12, 0)
NIGHT = dt.time(23, 30)


def test_routing_by_number_prefix_and_hours() -> None:
    rules = RoutingRules(("12345",), ("4000*",), ("99",), "reject", "08:00-20:00")
    assert route("12345", rules, NOON) == "assist"
    assert route("12345", rules, NIGHT) == "after_hours"
    assert route("40007", rules, NIGHT) == "ivr"
    assert route("99", rules, NOON) == "after_hours"
    assert route("123456", rules, NOON) == "reject"
    assert route("", rules, NOON) == "reject"


def test_office_hours_can_wrap_midnight() -> None:
    assert in_office_hours("22:00-06:00", dt.time(23, 0))
    assert in_office_hours("22:00-06:00", dt.time(5, 59))
    assert not in_office_hours("22:00-06:00", dt.time(6, 0))
    assert in_office_hours("00:00-24:00", dt.time(23, 59))


def test_sip_user_and_request_uri() -> None:
    assert sip_user('"Bob" <sip:13812345678@example.org;user=phone>;tag=1') == "13812345678"
    assert sip_user("sips:12345@10.0.0.1:5061") == "12345"
    assert sip_user("tel:+8613812345678") == "+8613812345678"
    assert request_uri("INVITE sip:12345@h SIP/2.0\r\nVia: x\r\n") == "sip:12345@h"
    assert request_uri("garbage") == ""


GOOD = (
    "INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\nTo: <sip:12345@127.0.0.1>\r\nFrom: <sip:1@127.0.0.1>;tag=1\r\n"
    "Call-ID: a@b\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nv=0\n"
)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"), "CSeq method"),
        (("Content-Length: 4", "Content-Length: 9999"), "Content-Length larger"),
        (("Call-ID: a@b\r\n", ""), "missing call-id"),
        (("Call-ID: a@b\r\n", "Call-ID: a@b\r\nCall-ID: c@d\r\n"), "more than one call-id"),
        (("Max-Forwards: 70", "Max-Forwards: 300"), "Max-Forwards"),
        (("SIP/2.0\r\nVia", "SIP/7.0\r\nVia"), "request line"),
        (
            ("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nDate: Fri, 01 Jan 2010 16:00:00 EST\r\n"),
            "Date",
        ),
        (("To: <sip:12345@127.0.0.1>", "To: < sip:12345@127.0.0.1 >"), "white space inside <>"),
        (("To: <sip:12345@127.0.0.1>", "To: Watson, Thomas <sip:1@h>"), "unquoted display name"),
        (("From: <sip:1@127.0.0.1>", "From: <sip:1@127.0.0.1"), "unclosed <>"),
    ],
)
def test_sanity_finds_what_is_wrong(change: tuple[str, str], problem: str) -> None:
    assert check_request(GOOD) == ""
    found = check_request(GOOD.replace(*change))
    assert problem.lower() in found.lower(), found


@pytest.mark.parametrize(
    "to",
    [
        'To: "Watson, Thomas" <sip:1@h>',
        "To: Watson Thomas <sip:1@h>",
        "To: sip:1@h",
        "t: <sip:1@h>",
    ],
)
def test_sanity_accepts_legal_addresses(to: str) -> None:
    assert check_request(GOOD.replace("To: <sip:12345@127.0.0.1>", to)) == ""


def test_sanity_accepts_digits_and_symbols_in_method_names() -> None:
    message = GOOD.replace("INVITE", "RE%47IST%45R").replace("CSeq: 1 RE%47IST%45R", "CSeq: 1 X")
    assert "request line" not in check_request(message)


def test_request_gate_finds_packet_and_msg_buf_in_an_rx_data_image() -> None:
    base = 0x7F00_0000_1000
    image = bytearray(8000)
    image[48:56] = (base + 320).to_bytes(8, "little")  # the ioqueue's own pointer: not msg_buf
    image[320 : 320 + len(GOOD)] = GOOD.encode()
    image[4424:4432] = (base + 320).to_bytes(8, "little")
    assert find_packet_offset(bytes(image[:1100])) == 320
    found = find_msg_buf_offset(lambda off, size: bytes(image[off : off + size]), base, 320)
    assert found == 4424
    assert find_packet_offset(bytes(1100)) is None
    image[4424:4432] = bytes(8)
    assert find_msg_buf_offset(lambda off, size: bytes(image[off : off + size]), base, 320) is None


def test_g711_packets_and_pcap_layout() -> None:
    pcm = (np.sin(np.arange(16000) * 2 * np.pi * 300 / 16000) * 8000).astype(np.int16)
    packets = g711_packets(pcm, 16000, "pcmu")
    assert len(packets) == 50 and all(len(p.payload) == 160 for p in packets)
    assert [p.seq for p in packets] == list(range(50))
    assert [p.timestamp for p in packets[:3]] == [0, 160, 320]
    decoded = ulaw_decode(b"".join(p.payload for p in packets))
    assert np.corrcoef(decoded[:7000].astype(float), pcm[::2][:7000].astype(float))[0, 1] > 0.99
    pcap = pcap_bytes(packets)
    magic, major, minor, _, _, _, linktype = struct.unpack("<IHHiIII", pcap[:24])
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    sec, usec, caplen, length = struct.unpack("<IIII", pcap[24:40])
    assert (sec, usec) == (0, 0) and caplen == length == 14 + 20 + 8 + 12 + 160
    second = 40 + caplen
    assert struct.unpack("<II", pcap[second : second + 8]) == (0, 20000)
    rtp = pcap[40 + 14 + 28 : 40 + 14 + 28 + 12]
    assert rtp[0] == 0x80 and rtp[1] == 0x80  # version 2; marker on the first packet, PT 0
    assert len(pcap) == 24 + 50 * (16 + caplen)


def test_worker_settings_json_round_trip() -> None:
    settings = WorkerSettings(
        index=1,
        socket_path="/tmp/x.sock",
        transports=("udp", "tcp"),
        routing=RoutingRules(("1",), ("2*",), (), "ivr", "08:00-18:00"),
        faults=("onDtmfDigit",),
        password="secret",
    )
    assert WorkerSettings.from_json(settings.to_json()) == settings
    assert "secret" not in repr(settings)


def test_recorder_writes_wav_and_retention_removes_old(tmp_path: Path) -> None:
    import os
    import wave

    recorder = LegRecorder(tmp_path, "call-1", Leg.CALLER)
    recorder.write(np.ones(320, dtype=np.int16))
    recorder.write(np.ones(320, dtype=np.int16))
    recorder.close()
    with wave.open(str(recorder.path)) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (16000, 640)
    now = os.path.getmtime(recorder.path)
    assert purge_old_recordings(tmp_path, 1.0, now + 3600) == 0
    assert purge_old_recordings(tmp_path, 1.0, now + 2 * 86400) == 1
    assert not recorder.path.exists() and not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[sip]\ntransports = ["sctp"]\n', "sip.transports"),
        ('[sip]\ncodecs = ["opus/48000"]\n', "sip.codecs"),
        ("[sip]\ncalls_per_worker = 5\n", "sip.calls_per_worker"),
        ('[sip.routing]\noffice_hours = "8-20"\n', "sip.routing.office_hours"),
        ('[sip.routing]\nassist_numbers = ["12 345"]\n', "sip.routing.assist_numbers"),
        ('[sip.routing]\nagent_uri = "agent@host"\n', "sip.routing.agent_uri"),
        ("[sip]\nsip_port = 65535\nworkers = 2\n", "sip.sip_port"),
        ('[sip.routing]\nunmatched = "drop"\n', "sip.routing.unmatched"),
    ],
)
def test_bad_sip_config_names_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = tmp_path / "jiesu.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {key}: expected"), str(caught.value)


def test_sip_is_off_by_default_and_example_validates() -> None:
    root = Path(__file__).resolve().parents[3]
    assert load_config(root / "sip_config" / "jiesu.toml").sip.enabled is False
    example = load_config(root / "sip_config" / "sip.example.toml").sip
    assert example.enabled and example.workers == 2 and example.transports == ("udp", "tcp")
