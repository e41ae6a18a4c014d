"""Property-based fuzzing of the whole REST API with schemathesis, from /api/openapi.json, for all
three audiences with valid tokens: no generated request may get a 5xx. Short here (a few examples
per operation, fuzzing phase); MALL_FUZZ_EXAMPLES and MALL_FUZZ_PHASES=coverage,fuzzing,stateful
make the long run."""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

EXAMPLES = os.environ.get("MALL_FUZZ_EXAMPLES", "3")
# no 5xx, and every answer as the spec says: a documented status, content type and body schema
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


async def fuzz(port: int, audience: str, token: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS if Path(SCHEMATHESIS).exists() else shutil.which("schemathesis"), "run",
        f"http://127.0.0.1:{port}/api/openapi.json", "--include-path-regex", f"^/api/{audience}",
        "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "-n", EXAMPLES,
        "--max-failures", "5", "--phases", os.environ.get("MALL_FUZZ_PHASES", "fuzzing"), "--no-color",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode, output.decode(errors="replace")


async def test_no_generated_request_gets_a_server_error(server, api, admin_token, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    for audience, token in (("merchant", shop.owner_token), ("mobile", member.token), ("admin", admin_token)):
        code, output = await fuzz(server.port, audience, token)
        assert code == 0, f"{audience}:\n{output[-4000:]}"
        assert "generated" in output and " failed" not in output.split("Test cases:")[-1], output[-2000:]
