"""GraphiQL for development, its page and assets served by the service itself, not a CDN."""

from __future__ import annotations

from functools import cache
from importlib import metadata, resources
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

# GraphiQL 2.4.7, React 17.0.2 and graphql-ws 5.13.1: npm's builds, byte for byte (but for a final
# newline), as graphene-django-graphiql-static ships them; nothing of theirs is in this repository.
DISTRIBUTION = "graphene-django-graphiql-static"
PACKAGE = "graphene_django_graphiql_static"
MEDIA_TYPES = {
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "graphql-ws.min.js": "text/javascript; charset=utf-8",
}
# The package version is in the address, so an asset never changes at its address.
CACHE_FOREVER = "public, max-age=31536000, immutable"


def assets_path() -> str:
    return f"/graphql/assets/{metadata.version(DISTRIBUTION)}"


@cache
def assets_directory() -> Path:
    return Path(str(resources.files(PACKAGE) / "static" / PACKAGE))


@cache
def page_html() -> str:
    template = Template((Path(__file__).parent / "graphiql.html").read_text(encoding="utf-8"))
    return template.substitute(assets=assets_path())


def page() -> HTMLResponse:
    return HTMLResponse(page_html(), headers={"Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = MEDIA_TYPES.get(name)
    if media_type is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(
        assets_directory() / name,
        media_type=media_type,
        headers={"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"},
    )


def routes() -> list[Route]:
    return [Route(assets_path() + "/{name}", asset, methods=["GET", "HEAD"])]
