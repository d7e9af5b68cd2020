import httpx, pytest
from api.app import Services, create_app
from tests.conftest import Api

async def test_explore(services, demo, admin):
    s = services.settings.model_copy(update={"environment": "production", "secret_key": "x"*32})
    app = create_app(services=Services(s, services.engine, services.sessions, services.queue))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for k in range(3, 7):
            q = "{ clients(first: 1) { nodes { " + "contacts { client { " * k + "name" + " } } " * k + "} } }"
            r = await http.post("/graphql", json={"query": q}, headers={"Authorization": "Bearer " + admin.token})
            print(k, str(r.json())[:200])
        r = await http.get("/graphql", params={"query": "{ settings { timeZone } }"})
        print("GET", r.status_code, r.text[:200])
        r = await http.get("/graphql")
        print("GET0", r.status_code, r.text[:100])
        r = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"}, headers={"Authorization": "Bearer " + admin.token})
        print("intro", r.status_code, r.text[:300])
        q = "{ settings { " + "timeZone " * 2100 + "} }"
        r = await http.post("/graphql", json={"query": q}, headers={"Authorization": "Bearer " + admin.token})
        print("tokens", r.status_code, r.text[:300])
        r = await http.post("/graphql", content=b"x" * 300000, headers={"content-type": "application/json"})
        print("big", r.status_code, r.text[:300])
        async def gen():
            for _ in range(30):
                yield b"x" * 10000
        r = await http.post("/graphql", content=gen(), headers={"content-type": "application/json"})
        print("chunked", r.status_code, r.text[:300])
    app = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.get("/graphql", params={"query": "{ settings { timeZone } }"})
        print("GETtest", r.status_code, r.text[:200])
        r = await http.get("/graphql", headers={"accept": "text/html"})
        print("GET0test", r.status_code, r.text[:100])
        r = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"}, headers={"Authorization": "Bearer " + admin.token})
        print("intro-test", r.status_code, r.text[:300])
    d = services.settings.model_copy(update={"environment": "development"})
    app = create_app(services=Services(d, services.engine, services.sessions, services.queue))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.get("/graphql", headers={"accept": "text/html"})
        print("GET0dev", r.status_code, r.text[:100])
        r = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"}, headers={"Authorization": "Bearer " + admin.token})
        print("intro-dev", r.status_code, r.text[:100])
