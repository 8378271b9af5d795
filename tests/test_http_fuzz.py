"""Schemathesis against the node's own OpenAPI schema: generated requests to every route get a
documented, well-formed answer — never a 5xx or a stack trace.

(Schemathesis' pytest plugin does not run under pytest 9, so the test drives its strategies with
Hypothesis directly.)
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api_servers import http_server, make_node

EXAMPLES_PER_ROUTE = 25


def _check(case) -> None:
    if case.path == "/tts" and isinstance(case.body, dict):
        case.body.update(max_mel_tokens=50, num_beams=1)  # the schema allows ten-minute texts: keep any run short
    response = case.call(timeout=120)
    assert response.status_code < 500, f"{case.method} {case.path} {case.body!r:.300} → {response.text[:500]}"
    if response.status_code >= 400:
        error = response.json()
        message = error.get("detail") or error.get("error", {}).get("message")
        assert isinstance(message, str) and message and "Traceback" not in message, response.text
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])


def test_every_route_answers_generated_requests_cleanly(engine, demo_dir: Path, tmp_path: Path):
    node = make_node(engine, demo_dir, tmp_path)
    with http_server(node) as (url, _):
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        tested = []
        for result in schema.get_all_operations():
            operation = result.ok()
            tested.append(f"{operation.method.upper()} {operation.path}")

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                _check(case)

            run()
    node.close()
    assert {"POST /tts", "POST /v1/audio/speech", "GET /health", "GET /metrics"} <= set(tested)
