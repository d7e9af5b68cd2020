"""GraphiQL in development: the page and everything it loads come from the service itself."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from api.app import Services, create_app

BASE = "http://test"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class References(HTMLParser):
    """Every src and href in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.found


def app_for(services: Services, environment: str) -> httpx.AsyncClient:
    settings = services.settings.model_copy(update={"environment": environment})
    app = create_app(
        services=Services(settings, services.engine, services.sessions, services.queue)
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def graphiql_page(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get("/graphql", headers={"Accept": "text/html"})


async def test_the_page_and_every_asset_it_names_come_from_the_service(services):
    async with app_for(services, "development") as http:
        page = await graphiql_page(http)
        addresses = [urljoin(f"{BASE}/graphql", ref) for ref in references(page.text)]
        assets = {address: await http.get(address) for address in addresses}

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert {urlsplit(address).netloc for address in addresses} == {"test"}
    assert "unpkg" not in page.text and "jsdelivr" not in page.text
    assert {urlsplit(address).path.rsplit(".", 1)[-1] for address in addresses} == {"js", "css"}
    assert len(assets) == 5
    for address, response in assets.items():
        suffix = "." + address.rsplit(".", 1)[-1]
        assert response.status_code == 200, address
        assert response.headers["content-type"].startswith(CONTENT_TYPES[suffix]), address
        assert "max-age=31536000" in response.headers["cache-control"], address
        assert len(response.content) > 10_000, address


async def test_the_page_runs_graphiql_against_this_endpoint(services):
    async with app_for(services, "development") as http:
        page = (await graphiql_page(http)).text
        script = (
            await http.get(
                next(ref for ref in references(page) if ref.endswith("/graphql-ws.min.js"))
            )
        ).text

    # Queries over HTTP at this page's own address, subscriptions over graphql-ws with the
    # Headers pane as connection_init's payload
    assert "GraphiQL.createFetcher({ url, wsClient })" in page
    assert "graphqlWs.createClient" in page and "connectionParams: headers" in page
    assert "mutation SignIn" in page and "Authorization" in page
    # The served graphql-ws speaks the protocol this endpoint accepts.
    assert "graphql-transport-ws" in script and "createClient" in script


async def test_an_asset_that_is_not_graphiqls_is_not_served(services):
    async with app_for(services, "development") as http:
        page = (await graphiql_page(http)).text
        css = next(ref for ref in references(page) if ref.endswith(".css"))
        folder = css.rsplit("/", 1)[0]

        other = await http.get(f"{folder}/style.css")
        escape = await http.get(f"{folder}/..%2F..%2Fgraphql")

    assert other.status_code == 404
    assert escape.status_code == 404


@pytest.mark.parametrize("environment", ["test", "production"])
async def test_graphiql_and_its_assets_are_development_only(services, environment):
    async with app_for(services, "development") as http:
        asset = next(
            ref for ref in references((await graphiql_page(http)).text) if ref.endswith(".js")
        )
    async with app_for(services, environment) as http:
        page = await graphiql_page(http)
        served = await http.get(asset)

    assert page.status_code == 404
    assert served.status_code == 404
