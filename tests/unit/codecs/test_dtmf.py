"""RFC 4733 telephone-event: payload parsing and one digit per key press, whatever the network."""

from __future__ import annotations

import struct

import pytest

from jiesu.codecs.dtmf import (
    DtmfDigit,
    DtmfReceiver,
    TelephoneEvent,
    parse_telephone_event,
)
from jiesu.codecs.errors import CodecError

Packet = tuple[int, bool, bytes]


def payload(event: int, duration: int, *, end: bool = False, volume: int = 10) -> bytes:
    """Built field by field from the RFC 4733 §2.3 diagram, independently of the parser."""
    return bytes([event, (0x80 if end else 0) | volume, duration >> 8, duration & 0xFF])


def press(event: int, timestamp: int, length: int = 800, step: int = 160) -> list[Packet]:
    """What a sender emits for one press: marker start, updates, the end packet three times."""
    packets: list[Packet] = [(timestamp, True, payload(event, step))]
    for duration in range(2 * step, length, step):
        packets.append((timestamp, False, payload(event, duration)))
    packets += [(timestamp, False, payload(event, length, end=True))] * 3
    return packets


def feed_all(receiver: DtmfReceiver, packets: list[Packet]) -> list[DtmfDigit]:
    digits: list[DtmfDigit] = []
    for timestamp, marker, data in packets:
        digits += receiver.feed(timestamp, marker, data)
    return digits


# --- parsing ---------------------------------------------------------------------------------


def test_parse_rfc_example_bytes() -> None:
    # Event 5, E=1, R=0, volume 10, duration 1600 (0x0640), written out by hand.
    event = parse_telephone_event(b"\x05\x8a\x06\x40")
    assert event == TelephoneEvent(event=5, end=True, volume=10, duration=1600)
    assert event.digit == "5"


def test_parse_start_packet() -> None:
    assert parse_telephone_event(b"\x0b\x3f\x00\xa0") == TelephoneEvent(11, False, 63, 160)


def test_reserved_bit_is_ignored() -> None:
    # RFC 4733 §2.3: the receiver MUST ignore R.
    assert parse_telephone_event(b"\x01\x4a\x00\xa0") == parse_telephone_event(b"\x01\x0a\x00\xa0")


@pytest.mark.parametrize(
    ("code", "digit"),
    [
        *[(i, str(i)) for i in range(10)],
        (10, "*"),
        (11, "#"),
        (12, "A"),
        (13, "B"),
        (14, "C"),
        (15, "D"),
        (16, "!"),
        (17, None),
        (32, None),
        (255, None),
    ],
)
def test_digit_mapping(code: int, digit: str | None) -> None:
    assert parse_telephone_event(payload(code, 160)).digit == digit


@pytest.mark.parametrize("data", [b"", b"\x01\x0a\x00", b"\x01\x0a\x00\xa0\x00", b"\x00" * 8])
def test_bad_length_is_refused(data: bytes) -> None:
    with pytest.raises(CodecError, match="4 bytes"):
        parse_telephone_event(data)


def test_non_bytes_is_refused() -> None:
    with pytest.raises(CodecError, match="bytes"):
        parse_telephone_event("\x01\x0a\x00\xa0")  # type: ignore[arg-type]


# --- receiver --------------------------------------------------------------------------------


def test_one_digit_per_press_despite_three_end_packets() -> None:
    receiver = DtmfReceiver()
    digits = feed_all(receiver, press(1, 1000, length=800))
    assert digits == [DtmfDigit("1", 1000, 800)]
    assert receiver.stats.digits == 1
    assert receiver.stats.stale == 2  # the two end retransmissions


def test_digit_is_reported_on_the_first_end_packet() -> None:
    receiver = DtmfReceiver()
    packets = press(9, 0)
    first_end = next(i for i, (_, _, data) in enumerate(packets) if data[1] & 0x80)
    assert feed_all(receiver, packets[:first_end]) == []
    assert receiver.pending
    assert receiver.feed(*packets[first_end]) == [DtmfDigit("9", 0, 800)]


def test_a_sequence_of_presses() -> None:
    receiver = DtmfReceiver()
    packets = press(1, 0) + press(2, 2400) + press(2, 4800) + press(11, 7200)
    assert [d.digit for d in feed_all(receiver, packets)] == ["1", "2", "2", "#"]


def test_lost_first_packet_still_gives_the_digit() -> None:
    receiver = DtmfReceiver()
    digits = feed_all(receiver, press(7, 5000)[1:])  # no marker packet at all
    assert digits == [DtmfDigit("7", 5000, 800)]


def test_lost_end_packets_new_timestamp_completes_the_old_press() -> None:
    receiver = DtmfReceiver()
    first = [p for p in press(4, 1000) if not p[2][1] & 0x80]  # all three end packets lost
    assert feed_all(receiver, first) == []
    digits = feed_all(receiver, press(5, 3000))
    assert digits == [DtmfDigit("4", 1000, 640, ended=False), DtmfDigit("5", 3000, 800)]
    assert receiver.stats.unended == 1


def test_same_key_twice_with_first_end_and_second_marker_lost() -> None:
    receiver = DtmfReceiver()
    first = [p for p in press(3, 1000) if not p[2][1] & 0x80]
    second = press(3, 2600)[1:]
    digits = feed_all(receiver, first + second)
    assert [(d.digit, d.rtp_timestamp) for d in digits] == [("3", 1000), ("3", 2600)]


def test_reordered_packets_of_one_event() -> None:
    receiver = DtmfReceiver()
    packets = press(6, 100, length=960)
    # An update overtaken by the end packet, and the marker packet arriving last.
    reordered = [packets[2], packets[1], packets[-1], packets[3], packets[0], *packets[4:-1]]
    digits = feed_all(receiver, reordered)
    assert digits == [DtmfDigit("6", 100, 960)]


def test_late_packet_of_a_previous_press_is_ignored() -> None:
    receiver = DtmfReceiver()
    one, two = press(1, 1000), press(2, 3000)
    packets = one[:-1] + two[:2] + one[-1:] + two[2:]  # an end retransmission of "1" arrives late
    assert [d.digit for d in feed_all(receiver, packets)] == ["1", "2"]


def test_timestamp_wraparound() -> None:
    receiver = DtmfReceiver()
    near_end = 2**32 - 900
    packets = press(8, near_end) + press(0, (near_end + 2400) % 2**32)
    digits = feed_all(receiver, packets)
    assert [(d.digit, d.rtp_timestamp) for d in digits] == [("8", near_end), ("0", 1500)]
    # A late packet from before the wrap must count as old, not as a new press.
    assert receiver.feed(near_end, False, payload(8, 800, end=True)) == []


def test_long_press_split_into_segments_is_one_digit() -> None:
    # RFC 4733 long-duration events: past 0xFFFF the sender starts a new segment at
    # ts + 0xFFFF, without a marker.
    receiver = DtmfReceiver()
    start = 10_000
    packets: list[Packet] = [(start, True, payload(2, 160))]
    packets += [(start, False, payload(2, 0xFFFF))]
    second = start + 0xFFFF
    packets += [(second, False, payload(2, 1600)), (second, False, payload(2, 3200, end=True))]
    packets += [(second, False, payload(2, 3200, end=True))] * 2
    assert feed_all(receiver, packets) == [DtmfDigit("2", start, 0xFFFF + 3200)]


def test_non_dtmf_events_are_ignored_and_counted() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(0, True, payload(32, 160, end=True)) == []  # RFC 4734 modem tone
    assert receiver.stats.ignored == 1
    assert feed_all(receiver, press(1, 800)) == [DtmfDigit("1", 800, 800)]


def test_flash_is_reported() -> None:
    assert [d.digit for d in feed_all(DtmfReceiver(), press(16, 0))] == ["!"]


def test_malformed_payload_raises_and_leaves_state_alone() -> None:
    receiver = DtmfReceiver()
    packets = press(1, 0)
    feed_all(receiver, packets[:2])
    with pytest.raises(CodecError, match="4 bytes"):
        receiver.feed(0, False, b"\x01\x0a")
    assert feed_all(receiver, packets[2:]) == [DtmfDigit("1", 0, 800)]
    assert receiver.stats.malformed == 1


def test_flush_reports_an_open_press_once() -> None:
    receiver = DtmfReceiver()
    feed_all(receiver, press(5, 0)[:3])
    assert receiver.flush() == [DtmfDigit("5", 0, 480, ended=False)]
    assert receiver.flush() == []


def test_expire_closes_a_press_that_went_quiet() -> None:
    receiver = DtmfReceiver()
    feed_all(receiver, press(5, 1000)[:3])  # last report: duration 480
    assert receiver.expire(1000 + 480 + 4000, timeout=4000) == []
    assert receiver.expire(1000 + 480 + 4001, timeout=4000) == [
        DtmfDigit("5", 1000, 480, ended=False)
    ]
    # Its end packets arriving afterwards must not report it again.
    assert feed_all(receiver, press(5, 1000)[3:]) == []


def test_expire_across_wraparound() -> None:
    receiver = DtmfReceiver()
    start = 2**32 - 200
    receiver.feed(start, True, payload(9, 160))
    assert receiver.expire(8000, timeout=4000) == [DtmfDigit("9", start, 160, ended=False)]


def test_wire_format_helper_matches_struct() -> None:
    # Guard on the test helper itself against the standard library's packing.
    assert payload(11, 0x1234, end=True, volume=7) == struct.pack("!BBH", 11, 0x87, 0x1234)


def test_reordered_updates_keep_the_longest_duration_seen() -> None:
    receiver = DtmfReceiver()
    feed_all(receiver, [(0, True, payload(4, 160)), (0, False, payload(4, 480))])
    receiver.feed(0, False, payload(4, 320))  # an older update arriving late
    assert receiver.flush() == [DtmfDigit("4", 0, 480, ended=False)]


def test_long_press_whose_segment_end_was_lost_is_still_one_digit() -> None:
    receiver = DtmfReceiver()
    packets: list[Packet] = [(0, True, payload(1, 160)), (0, False, payload(1, 65000))]
    # The 0xFFFF report closing the first segment is lost; the next segment starts at 0xFFFF.
    packets += [(0xFFFF, False, payload(1, 800)), (0xFFFF, False, payload(1, 960, end=True))]
    assert feed_all(receiver, packets) == [DtmfDigit("1", 0, 0xFFFF + 960)]


def test_marker_at_the_segment_boundary_means_a_new_press() -> None:
    # Same key, end packets lost, next press marked and starting right where the first stopped:
    # the marker says it is a new event, not a continuation.
    receiver = DtmfReceiver()
    first = [p for p in press(3, 0, length=800) if not p[2][1] & 0x80]  # up to duration 640
    second = press(3, 640)
    digits = feed_all(receiver, first + second)
    assert [(d.digit, d.rtp_timestamp, d.ended) for d in digits] == [
        ("3", 0, False),
        ("3", 640, True),
    ]
