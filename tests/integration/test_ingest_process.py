"""`python -m newsflow_ingest` as the runner starts it: env vars in, 202 out, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from newsflow_schema import ArticleRawEvent, decode
from tests.integration.ingest_support import RawTopic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_module_entry_point_serves_and_stops_cleanly(
    kafka_bootstrap: str, sample_text: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INGEST_HOST": "127.0.0.1",
        "INGEST_PORT": str(port),
        "INGEST_API_KEYS": "secret-key",
        "INGEST_READ_API_BASE_URL": "http://reader.example:8001",
    }
    log = (tmp_path / "ingest.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "newsflow_ingest", env=env, cwd=REPO, stdout=log, stderr=log
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.returncode is None, (tmp_path / "ingest.log").read_text()
                assert loop.time() < deadline, "ingest not ready within 60 s"
                await asyncio.sleep(0.2)

            refused = await client.post("/v1/articles", json={"text": sample_text})
            assert refused.status_code == 401

            async with RawTopic(kafka_bootstrap) as raw:
                await raw.mark()
                response = await client.post(
                    "/v1/articles",
                    json={"text": sample_text},
                    headers={"Authorization": "Bearer secret-key"},
                )
                assert response.status_code == 202, response.text
                body = response.json()
                assert response.headers["location"] == (
                    f"http://reader.example:8001/v1/articles/{body['id']}"
                )
                (record,) = await raw.read_new(1)
            event = decode(ArticleRawEvent, record.value)
            assert event.title == body["title"]
            assert event.published_at is not None
            assert event.published_at.date().isoformat() == "2022-09-13"

        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=30)
        # uvicorn re-raises the signal after a graceful shutdown, so the status says SIGTERM.
        assert code in (0, -signal.SIGTERM)
        output = (tmp_path / "ingest.log").read_text()
        assert "Application shutdown complete" in output
        assert "Traceback" not in output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
