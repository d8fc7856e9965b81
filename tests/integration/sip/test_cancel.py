"""Assist mode, CANCEL: the caller gives up while the agent's phone rings; the B2BUA cancels
the agent's leg (the agent's sipp must see the CANCEL) and the caller gets 487."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sipp_peer import free_udp_port, run_sipp, wait_udp_bound

CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller cancels">
<send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:13812345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:13812345678@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
]]></send>
<recv response="100" optional="true"/>
<recv response="180"/>
<pause milliseconds="800"/>
<send><![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:13812345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
]]></send>
<recv response="200"/>
<recv response="487"/>
<send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:13812345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
]]></send>
</scenario>
"""

AGENT = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent rings">
<recv request="INVITE" crlf="true"/>
<send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Length: 0
]]></send>
<recv request="CANCEL"/>
<send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
]]></send>
<send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [cseq] INVITE
      Content-Length: 0
]]></send>
<recv request="ACK"/>
</scenario>
"""


async def test_caller_cancel_cancels_the_ringing_agent(
    make_supervisor: Any, tmp_path: Path
) -> None:
    agent_port = free_udp_port()
    supervisor, sink = await make_supervisor(
        routing={"agent_uri": f"sip:agent-7@127.0.0.1:{agent_port}"}
    )
    agent = asyncio.create_task(
        run_sipp(AGENT, tmp_path, None, name="agent", sip_port=agent_port, timeout_s=20)
    )
    await wait_udp_bound(agent_port)  # the agent's phone listens first
    caller = await run_sipp(
        CALLER,
        tmp_path,
        f"127.0.0.1:{supervisor.ports[0]}",
        service="12345",
        sip_port=free_udp_port(),
        media_port=free_udp_port(4),
        timeout_s=20,
    )
    agent_result = await agent
    assert caller.rc == 0, caller.output[-3000:]
    assert agent_result.rc == 0, agent_result.output[-3000:]
    await supervisor.sync()
    # The call never had media, so it never reached the pipeline; the worker is idle again.
    assert sink.started == {} and sink.violations == []
