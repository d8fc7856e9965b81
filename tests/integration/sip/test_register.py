"""Registration to a PBX/SBC (``[sip.registration]``): a sipp registrar challenges the worker
with a digest 401 and verifies its credentials (sipp's ``verifyauth``) before binding it; the
worker reports the state (``SipSupervisor.registered``, ``sip_registration_state{worker}``)
and unregisters (Expires: 0) when it stops. A wrong password gets 403 and no registration.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scenarios import load
from sipp_peer import free_udp_port, run_sipp, wait_udp_bound

from jiesu.engine.config import SipRegistrationConfig


async def registrar_and_worker(
    make_supervisor: Any, tmp_path: Path, password: str, expected: str
) -> tuple[Any, asyncio.Task[Any]]:
    port = free_udp_port()
    secret = tmp_path / "sip.password"
    secret.write_text(password + "\n", encoding="utf-8")
    registrar = asyncio.create_task(
        run_sipp(
            load("registrar", username="jiesu-w1", password=expected, expires=120),
            tmp_path,
            None,
            name="registrar",
            sip_port=port,
            timeout_s=20,
        )
    )
    await wait_udp_bound(port)
    supervisor, _ = await make_supervisor(
        registration=SipRegistrationConfig(
            enabled=True,
            registrar=f"sip:127.0.0.1:{port}",
            username="jiesu-w1",
            password_file=secret,
            expires_s=120,
        )
    )
    return supervisor, registrar


async def test_worker_registers_with_digest_and_unregisters_at_stop(
    make_supervisor: Any, tmp_path: Path
) -> None:
    supervisor, registrar = await registrar_and_worker(
        make_supervisor, tmp_path, "s3cret-pw", "s3cret-pw"
    )
    await supervisor.wait_registered(0, True, timeout_s=10)
    assert supervisor.metrics.value("sip_registration_state", {"worker": "0"}) == 1
    assert (
        supervisor.metrics.value("sip_registration_responses_total", {"worker": "0", "code": "200"})
        == 1
    )
    await supervisor.close()  # the worker unregisters before it exits
    result = await registrar
    assert result.rc == 0, result.output[-3000:]  # credentials verified, Expires 0 seen
    assert supervisor.registered[0] is False
    assert supervisor.metrics.value("sip_registration_state", {"worker": "0"}) == 0


async def test_wrong_password_is_refused_and_reported(make_supervisor: Any, tmp_path: Path) -> None:
    supervisor, registrar = await registrar_and_worker(
        make_supervisor, tmp_path, "wrong-pw", "s3cret-pw"
    )
    result = await registrar
    assert result.rc != 0  # the registrar's verifyauth failed and it answered 403
    await supervisor.wait_registered(0, False, timeout_s=10)
    assert (
        supervisor.metrics.value("sip_registration_responses_total", {"worker": "0", "code": "403"})
        == 1
    )
    assert supervisor.metrics.value("sip_registration_state", {"worker": "0"}) == 0
