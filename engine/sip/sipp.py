"""sipp as a real SIP peer (tests, the load benchmark, the README's by-hand call): scenario
files written from templates, sipp run as a subprocess on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

SIPP = shutil.which("sipp")


def free_udp_port(span: int = 1) -> int:
    """A port p such that p .. p+span-1 are free for UDP (and TCP) on 127.0.0.1 right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - span) & ~1
        socks = []
        try:
            for port in range(base, base + span):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def need_sipp() -> str:
    if SIPP is None:
        raise FileNotFoundError("sipp is not installed (Debian package sip-tester)")
    return SIPP


_HEADERS = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70"""


def _request(method: str, cseq: int, caller: str, body: str = "", extra: str = "") -> str:
    to_tag = "" if method == "INVITE" else "[peer_tag_param]"
    headers = _HEADERS.format(caller=caller, to_tag=to_tag, cseq=cseq, method=method)
    if extra:
        headers += "\n      " + extra
    if body:
        headers += "\n      Content-Type: application/sdp"
    return (
        f"      {method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n      {headers}\n"
        f"      Content-Length: [len]\n\n{body}"
    )


SDP = """      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP {pt} 101
      a=rtpmap:{pt} {codec}/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
"""


def uac_scenario(
    pcap: Path | None,
    talk_ms: int,
    codec: str = "PCMU",
    caller: str = "13812345678",
    info_dtmf: str = "",
    rfc2833_pcap: Path | None = None,
) -> str:
    """INVITE, ACK, stream ``pcap`` while pausing ``talk_ms``, optional DTMF, BYE."""
    pt = 0 if codec == "PCMU" else 8
    sdp = SDP.format(pt=pt, codec=codec)
    steps = [
        f'<send retrans="500"><![CDATA[\n{_request("INVITE", 1, caller, sdp)}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        '<recv response="200" rtd="true"/>',
        f"<send><![CDATA[\n{_request('ACK', 1, caller)}\n]]></send>",
    ]
    if pcap is not None:
        steps.append(f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
    steps.append(f'<pause milliseconds="{talk_ms}"/>')
    cseq = 2
    if rfc2833_pcap is not None:
        steps.append(f'<nop><action><exec play_pcap_audio="{rfc2833_pcap}"/></action></nop>')
        steps.append('<pause milliseconds="500"/>')
    for digit in info_dtmf:
        body = f"Signal={digit}\r\nDuration=160\r\n"
        req = _request("INFO", cseq, caller, extra="Content-Type: application/dtmf-relay")
        req = req.replace("Content-Length: [len]\n\n", f"Content-Length: [len]\n\n      {body}")
        steps.append(f'<send retrans="500"><![CDATA[\n{req}\n]]></send>')
        steps.append('<recv response="200"/>')
        cseq += 1
    steps.append(f'<send retrans="500"><![CDATA[\n{_request("BYE", cseq, caller)}\n]]></send>')
    steps.append('<recv response="200" crlf="true"/>')
    body = "\n".join(steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="jiesu uac">\n{body}\n</scenario>\n'


def uac_phone_scenario(
    rtp_port: int, hangup_after_ms: int | None = None, *, accept_refer: bool = False
) -> str:
    """A caller whose media is not sipp's but a phone's at ``127.0.0.1:rtp_port`` (the voice
    tests' :class:`~jiesu.bench.rtp_phone.RtpPhone`): INVITE, ACK, then either BYE after
    ``hangup_after_ms`` or wait for Jiesu's BYE. ``accept_refer``: first a REFER is expected
    (a blind transfer), answered 202 and reported done by a NOTIFY ``SIP/2.0 200 OK``."""
    sdp = SDP.format(pt=0, codec="PCMU").replace("[media_ip_type] [media_ip]", "4 127.0.0.1")
    sdp = sdp.replace("[media_port]", str(rtp_port))
    steps = [
        f'<send retrans="500"><![CDATA[\n{_request("INVITE", 1, "13812345678", sdp)}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        '<recv response="200" rtd="true"/>',
        f"<send><![CDATA[\n{_request('ACK', 1, '13812345678')}\n]]></send>",
    ]
    if accept_refer:
        steps += _ACCEPT_REFER
    if hangup_after_ms is None:
        steps += ANSWER_BYE
    else:
        steps.append(f'<pause milliseconds="{hangup_after_ms}"/>')
        bye = _request("BYE", 2, "13812345678")
        steps.append(f'<send retrans="500"><![CDATA[\n{bye}\n]]></send>')
        steps.append('<recv response="200" crlf="true"/>')
    body = "\n".join(steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="jiesu phone uac">\n{body}\n</scenario>\n'


#: sipp steps of a phone that takes a blind transfer: 202 to the REFER, then a NOTIFY saying
#: the transferred call succeeded (RFC 3515), in the dialog of the first call.
_ACCEPT_REFER = [
    '<recv request="REFER" crlf="true"/>',
    """<send><![CDATA[
      SIP/2.0 202 Accepted
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: sip:13812345678@[local_ip]:[local_port]
      Content-Length: 0
]]></send>""",
    """<send retrans="500"><![CDATA[
      NOTIFY sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "caller" <sip:13812345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 NOTIFY
      Contact: sip:13812345678@[local_ip]:[local_port]
      Max-Forwards: 70
      Event: refer
      Subscription-State: terminated;reason=noresource
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

SIP/2.0 200 OK
]]></send>""",
    '<recv response="200"/>',
]


#: sipp steps that wait for the other side's BYE and answer it 200.
ANSWER_BYE = [
    '<recv request="BYE"/>',
    """<send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
]]></send>""",
]


#: Headers of the agent phone's answers to the INVITE (its To tag and Contact).
_ANSWER_HEADERS = """      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>"""


def uas_scenario(pcap: Path | None, ring_ms: int = 200) -> str:
    """The agent's phone: 180, 200 with SDP, stream ``pcap``, then wait for the BYE."""
    sdp = SDP.format(pt=0, codec="PCMU")
    steps = [
        '<recv request="INVITE" crlf="true"/>',
        f"""<send><![CDATA[
      SIP/2.0 180 Ringing
{_ANSWER_HEADERS}
      Content-Length: 0
]]></send>""",
        f'<pause milliseconds="{ring_ms}"/>',
        f"""<send retrans="500"><![CDATA[
      SIP/2.0 200 OK
{_ANSWER_HEADERS}
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
]]></send>""",
        '<recv request="ACK" rtd="true" crlf="true"/>',
    ]
    if pcap is not None:
        steps.append(f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
    steps += ANSWER_BYE
    body = "\n".join(steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="jiesu uas">\n{body}\n</scenario>\n'


def uas_busy_scenario() -> str:
    """An agent's phone that is busy: 486 to the INVITE, then the ACK."""
    steps = [
        '<recv request="INVITE" crlf="true"/>',
        f"""<send><![CDATA[
      SIP/2.0 486 Busy Here
{_ANSWER_HEADERS}
      Content-Length: 0
]]></send>""",
        '<recv request="ACK" crlf="true"/>',
    ]
    body = "\n".join(steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="jiesu busy uas">\n{body}\n</scenario>\n'


@dataclass
class SippResult:
    rc: int
    output: str


def udp_port_bound(port: int) -> bool:
    """Whether some socket on this machine is bound to UDP ``port`` (from /proc/net/udp*).

    Read-only: binding the port to find out could take it from the process about to use it."""
    needle = f":{port:04X} "
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(line.split()[1].endswith(needle.strip()) for line in lines if len(line.split()) > 1):
            return True
    return False


async def wait_udp_bound(port: int, timeout_s: float = 15.0, poll_s: float = 0.02) -> None:
    """Wait until a peer (an agent's phone) listens on UDP ``port``, so that the INVITE sent
    to it is not lost to an ICMP port-unreachable while it is still starting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not udp_port_bound(port):
        if loop.time() > deadline:
            raise TimeoutError(f"nothing bound UDP port {port} within {timeout_s:.0f} s")
        await asyncio.sleep(poll_s)


async def run_sipp(
    scenario: str,
    workdir: Path,
    target: str | None,
    *,
    name: str = "uac",
    service: str = "12345",
    media_port: int = 0,
    sip_port: int = 0,
    calls: int = 1,
    rate: float = 1.0,
    limit: int = 1,
    timeout_s: float = 60.0,
    extra: tuple[str, ...] = (),
) -> SippResult:
    """Run sipp to completion (a UAC with ``target``; a UAS with ``target=None``)."""
    sipp = need_sipp()
    path = workdir / f"{name}.xml"
    path.write_text(scenario, encoding="ascii")
    args = [sipp, "-sf", str(path), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin"]
    args += ["-m", str(calls), "-l", str(limit), "-r", str(rate), "-s", service]
    args += [
        "-timeout",
        f"{int(timeout_s)}s",
        "-trace_err",
        "-error_file",
        str(workdir / f"{name}.err"),
    ]
    if media_port:
        args += ["-mp", str(media_port)]
    if sip_port:
        args += ["-p", str(sip_port)]
    args += list(extra)
    if target is not None:
        args.append(target)
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    except BaseException:
        # Cancelled (a test that is done with the call): sipp must not outlive the event
        # loop, or its transport is collected later with the loop closed (an unraisable error
        # in whatever runs then).
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.communicate()
        raise
    errors = workdir / f"{name}.err"
    text = out.decode(errors="replace")
    if errors.exists():
        text += "\n" + errors.read_text(errors="replace")[-4000:]
    return SippResult(proc.returncode if proc.returncode is not None else -1, text)


def main(argv: list[str] | None = None) -> int:
    """``python -m jiesu.engine.sip.sipp WAV``: write a G.711 pcap of the recording and a sipp
    caller scenario that streams it, and print the sipp command for a by-hand call."""
    import argparse

    from jiesu.engine.ingest.client import read_wav
    from jiesu.engine.sip.rtpfile import g711_packets, pcap_bytes

    parser = argparse.ArgumentParser(prog="python -m jiesu.engine.sip.sipp")
    parser.add_argument("wav", type=Path, help="a mono WAV recording (any rate)")
    parser.add_argument("--codec", choices=["pcmu", "pcma"], default="pcmu")
    parser.add_argument("--out", type=Path, default=Path("var/sipp"), help="where to write")
    parser.add_argument("--target", default="127.0.0.1:5070", help="a worker's host:port")
    parser.add_argument("--service", default="40001", help="the number to dial")
    parser.add_argument("--tail-ms", type=int, default=1500, help="silence before the BYE")
    args = parser.parse_args(argv)
    pcm, rate = read_wav(args.wav)
    packets = g711_packets(pcm, rate, args.codec)
    args.out.mkdir(parents=True, exist_ok=True)
    pcap = (args.out / f"{args.wav.stem}-{args.codec}.pcap").resolve()
    pcap.write_bytes(pcap_bytes(packets))
    scenario = args.out / "uac_speech.xml"
    talk_ms = len(packets) * 20 + args.tail_ms
    scenario.write_text(uac_scenario(pcap, talk_ms, codec=args.codec.upper()), encoding="ascii")
    print(
        f"sipp -sf {scenario} -s {args.service} -i 127.0.0.1 -mi 127.0.0.1 -p 5062 "
        f"-mp 6100 -m 1 {args.target}"
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
