"""Generated operations against the production app: no 5xx, no internal error, any profile."""

from __future__ import annotations

import httpx
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes

from api.app import Services, create_app
from schema import schema
from tests.conftest import Api

OPERATIONS = 1000
MASKED = "Unexpected error."
SCALARS = {
    "DateTime": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()).map(
        nodes.String),
    "Date": st.dates().map(lambda d: d.isoformat()).map(nodes.String),
    "Time": st.times().map(lambda t: t.isoformat()).map(nodes.String),
}


def generated(mode: Mode, count: int) -> list[str]:
    """`count` operations, queries and mutations, drawn the way hypothesis draws them."""
    found: list[str] = []
    strategy = hypothesis_graphql.from_schema(schema.as_str(), custom_scalars=SCALARS, mode=mode)

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(operation: str) -> None:
        found.append(operation)

    collect()
    return found


@pytest.fixture
async def production(services: Services, demo):
    settings_ = services.settings.model_copy(update={"environment": "production",
                                                     "secret_key": "s" * 32})
    return create_app(services=Services(settings_, services.engine, services.sessions,
                                        services.queue, services.feed))


# Valid operations, 1,000 per profile; and malformed ones, which must be refused cleanly.
@pytest.mark.parametrize("who", ["admin", "office", "tech"])
@pytest.mark.parametrize("mode,count", [(Mode.POSITIVE, OPERATIONS), (Mode.NEGATIVE, 300)])
async def test_generated_operations_never_fail_inside(production, who, mode, count):
    operations = generated(mode, count)
    transport = httpx.ASGITransport(app=production)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        api = await Api(http).login(who)
        for operation in operations:
            response = await http.post("/graphql", json={"query": operation},
                                       headers={"Authorization": f"Bearer {api.token}"})
            assert response.status_code < 500, (operation, response.text)
            messages = [e.get("message") for e in response.json().get("errors") or []]
            assert MASKED not in messages, (operation, response.text)
