"""Bad input on a real connection: each kind gets a clear error frame and a counter, nothing
crashes, and the same connection streams a good call afterwards."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt
import pytest

from jiesu.engine.audio import Leg
from jiesu.engine.ingest.client import IngestRefused, encode_pcm
from jiesu.engine.ingest.protocol import Audio, Hello, Start, encode_frame

Pcm = npt.NDArray[np.int16]


def chirp(seconds: float = 0.5, rate: int = 16000) -> Pcm:
    t = np.arange(int(rate * seconds)) / rate
    return (6000 * np.sin(2 * np.pi * (200 + 1500 * t) * t)).astype(np.int16)


async def assert_good_call(ingest: Any, client: Any, call_id: str) -> None:
    """The connection still works: a clean call goes through, bit-exact."""
    pcm = chirp()
    stats = await client.stream_call(call_id, {Leg.CALLER: pcm}, 16000, codec="l16", rate=16000)
    assert stats.frames == stats.chunks == len(pcm) // 320 and stats.bad == 0
    assert np.array_equal(ingest.sink.leg_pcm(call_id, Leg.CALLER), pcm)
    assert ingest.sink.ended[call_id].reason == "hangup"


def pack(value: object) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\xc1\xc1\xc1 not msgpack", "bad_msgpack"),
        (pack([1, 2, 3]), "not_a_map"),
        (pack({"no": "type"}), "unknown_type"),
        (pack({"type": "teleport", "call_id": "x"}), "unknown_type"),
        (pack({"type": "audio", "call_id": "x"}), "bad_message"),
        (pack({"type": "start", "call_id": 5}), "bad_message"),
        ("a text frame", "text_frame"),
        (encode_frame(Hello("again")), "unexpected_hello"),
    ],
)
async def test_garbage_gets_an_error_and_the_connection_lives_on(
    ingest: Any, message: bytes | str, code: str
) -> None:
    client = await ingest.connected()
    await client.send_raw(message)
    error = await client.next_error()
    assert error.code == code and error.message
    assert ingest.bad(code) == 1
    await assert_good_call(ingest, client, "after-garbage")


async def test_an_oversize_message_is_refused_and_the_connection_survives(
    make_ingest: Any,
) -> None:
    ingest = await make_ingest(max_frame_bytes=4096)
    client = await ingest.connected()
    await client.start_call("big", codec="l16", rate=16000)
    await client.send_frame(Audio("big", Leg.CALLER, 0, "l16", b"\x00" * 5000))
    error = await client.next_error()
    assert error.code == "too_large" and "4096" in error.message
    assert ingest.bad("too_large") == 1
    stats = await client.stop_call("big")
    assert stats.received == 0  # never reached the call
    await assert_good_call(ingest, client, "after-oversize")


async def test_a_message_past_the_hard_cap_closes_the_connection_and_ends_its_calls(
    make_ingest: Any,
) -> None:
    ingest = await make_ingest(max_frame_bytes=1024)
    client = await ingest.connected()
    await client.start_call("huge", codec="l16", rate=16000)
    await client.send_raw(b"\x00" * (4 * 1024 + 1))
    assert await client.wait_closed() == 1009  # message too big
    ended = await ingest.sink.wait_ended("huge")
    assert ended.reason == "ingest_disconnected"
    assert ingest.server.active_calls == 0


@pytest.mark.parametrize(
    ("codec", "rate", "code"),
    [
        ("amr", 8000, "unsupported_codec"),
        ("g722", 8000, "bad_codec_params"),  # 8000 is G.722's RTP clock, not its audio rate
        ("pcmu", 16000, "bad_codec_params"),
        ("l16", 44100, "bad_codec_params"),
    ],
)
async def test_a_start_with_an_unusable_codec_is_refused(
    ingest: Any, codec: str, rate: int, code: str
) -> None:
    client = await ingest.connected()
    with pytest.raises(IngestRefused) as info:
        await client.start_call("codec-call", codec=codec, rate=rate)
    assert info.value.code == code
    assert ingest.metrics.value("ingest_calls_refused_total", {"reason": code}) == 1
    assert "codec-call" not in ingest.sink.started
    await assert_good_call(ingest, client, "after-codec")


async def test_out_of_order_duplicate_and_lost_frames(ingest: Any) -> None:
    client = await ingest.connected()
    pcm = chirp(0.2)  # 10 frames
    payloads = encode_pcm(pcm, 16000, "l16", 16000)
    await client.start_call("ooo", codec="l16", rate=16000)
    order = [0, 1, 1, 3, 2, 4, 5, 0, 8, 9]  # dup 1, lost 2 (late), lost 6-7, dup 0
    for seq in order:
        await client.send_audio("ooo", Leg.CALLER, seq, payloads[seq], "l16")
    stats = await client.stop_call("ooo")
    errors = client.pending_errors()
    assert [(e.code, e.seq) for e in errors] == [
        ("duplicate", 1),
        ("out_of_order", 2),
        ("duplicate", 0),
    ]
    assert all(e.call_id == "ooo" and e.leg == "caller" for e in errors)
    assert (stats.frames, stats.duplicates, stats.out_of_order, stats.lost) == (7, 2, 1, 3)
    assert stats.chunks == 10 and stats.received == 10
    assert ingest.dropped("duplicate") == 2 and ingest.dropped("out_of_order") == 1
    assert ingest.metrics.value("ingest_frames_lost_total") == 3
    chunks = ingest.sink.leg_chunks("ooo", Leg.CALLER)
    assert [c.seq for c in chunks] == list(range(10))
    for seq, chunk in enumerate(chunks):
        expected = np.zeros(320, np.int16) if seq in (2, 6, 7) else pcm[seq * 320 : (seq + 1) * 320]
        assert np.array_equal(chunk.pcm, expected), f"chunk {seq}"
    await assert_good_call(ingest, client, "after-ooo")


async def test_frames_that_do_not_fit_the_call_are_dropped_with_a_reason(ingest: Any) -> None:
    client = await ingest.connected()
    await client.start_call("fit", codec="pcmu", legs=(Leg.CALLER, Leg.AGENT))
    good = encode_pcm(chirp(0.02, 8000), 8000, "pcmu")[0]
    await client.send_audio("fit", Leg.CALLER, 0, good, "pcma")  # codec mismatch
    await client.send_audio("fit", Leg.CALLER, 0, good[:100], "pcmu")  # wrong size
    await client.send_audio("fit", Leg.MIXED, 0, good, "pcmu")  # leg not in the call
    await client.send_audio("nope", Leg.CALLER, 0, good, "pcmu")  # call not open
    await client.send_audio("fit", Leg.CALLER, 5000, good, "pcmu")  # 100 s ahead
    await client.send_audio("fit", Leg.CALLER, 0, good, "pcmu")  # fine
    stats = await client.stop_call("fit")
    codes = [e.code for e in client.pending_errors()]
    assert codes == ["codec_mismatch", "bad_size", "unknown_leg", "unknown_call", "seq_jump"]
    for reason in codes:
        assert ingest.dropped(reason) == 1, reason
    assert stats.frames == 1 and stats.bad == 4 and stats.chunks == 1
    assert ingest.sink.ended["fit"].chunks_received == 1
    await assert_good_call(ingest, client, "after-misfit")


async def test_requests_about_calls_that_do_not_exist_are_answered(ingest: Any) -> None:
    client = await ingest.connected()
    with pytest.raises(IngestRefused) as info:
        await client.stop_call("never-started")
    assert info.value.code == "unknown_call"
    await client.start_call("dup", codec="pcmu")
    with pytest.raises(IngestRefused) as info:
        await client.start_call("dup", codec="pcmu")
    assert info.value.code == "duplicate_call"
    other = await ingest.connected()  # another connection cannot touch or reuse the call
    with pytest.raises(IngestRefused) as info:
        await other.start_call("dup", codec="pcmu")
    assert info.value.code == "duplicate_call"
    with pytest.raises(IngestRefused) as info:
        await other.stop_call("dup")
    assert info.value.code == "unknown_call"
    assert "dup" not in ingest.sink.ended
    await client.stop_call("dup")
    assert ingest.sink.ended["dup"].reason == "hangup"


async def test_a_start_for_another_hotline_is_forbidden(ingest: Any) -> None:
    client = await ingest.connected()
    with pytest.raises(IngestRefused) as info:
        await client.start_call("elsewhere", codec="pcmu", hotline="96345")
    assert info.value.code == "forbidden"


async def test_a_flood_of_bad_frames_is_answered_at_a_limited_rate(make_ingest: Any) -> None:
    clock = [0.0]
    ingest = await make_ingest(
        server_kwargs={"monotonic": lambda: clock[0], "notice_rate": 1.0, "notice_burst": 5}
    )
    client = await ingest.connected()
    for _ in range(200):
        await client.send_raw(b"\xc1")
    # A request's answer is never suppressed, and it comes after every earlier message's.
    with pytest.raises(IngestRefused):
        await client.stop_call("sync")
    assert len(client.pending_errors()) == 5
    assert ingest.bad("bad_msgpack") == 200
    assert ingest.metrics.value("ingest_notices_suppressed_total") == 195
    clock[0] += 1.0  # one more notice's worth of budget
    await client.send_raw(b"\xc1")
    error = await client.next_error()
    assert error.code == "bad_msgpack" and error.suppressed == 195
    await assert_good_call(ingest, client, "after-flood")


async def test_a_start_sent_with_a_bad_field_type_is_refused_not_crashing(ingest: Any) -> None:
    client = await ingest.connected()
    start = encode_frame(Start("typed", "12345", "", "pcmu", 8000, (Leg.CALLER,)))
    broken = msgpack.unpackb(start)
    broken["legs"] = "caller"  # a string, not a list
    await client.send_raw(pack(broken))
    error = await client.next_error()
    assert error.code == "bad_message" and "legs" in error.message
    await assert_good_call(ingest, client, "after-typed")


async def test_a_bug_while_handling_a_message_is_contained(make_ingest: Any) -> None:
    """An unexpected exception (here: a decoder bug) costs one message, not the connection."""
    from jiesu.codecs.payload import open_decoder

    class Buggy:
        codec, rate = "pcma", 8000

        def decode(self, payload: bytes) -> Pcm:
            raise RuntimeError("decoder bug")

    def factory(codec: str, rate: int) -> Any:
        return Buggy() if codec == "pcma" else open_decoder(codec, rate)

    ingest = await make_ingest(server_kwargs={"decoder_factory": factory})
    client = await ingest.connected()
    await client.start_call("buggy", codec="pcma")
    await client.send_audio("buggy", Leg.CALLER, 0, b"\xd5" * 160, "pcma")
    error = await client.next_error()
    assert error.code == "internal" and "bug" not in error.message  # no internals leak
    assert ingest.metrics.value("ingest_internal_errors_total") == 1
    await client.stop_call("buggy")
    await assert_good_call(ingest, client, "after-bug")
