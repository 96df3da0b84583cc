"""/docs and /redoc work offline: every asset they load comes from the API itself."""

import re

import httpx
import pytest

pytestmark = pytest.mark.anyio

# src="...", href="..." and the `url: '...'` Swagger UI is given for the schema.
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)|url:\s*["']([^"']+)""")


def _references(page: str) -> list[str]:
    return [src or url for src, url in _REFERENCE.findall(page)]


@pytest.mark.parametrize(
    ("path", "script"),
    [("/docs", "SwaggerUIBundle"), ("/redoc", "Redoc")],
)
async def test_docs_pages_load_only_assets_the_api_serves(
    api: httpx.AsyncClient, path: str, script: str
) -> None:
    page = await api.get(path)
    assert page.status_code == 200
    assert not re.search(r"(?:https?:)?//", page.text), "an off-site URL in the page"
    references = _references(page.text)
    assert any(ref.endswith(".js") for ref in references), references
    for reference in references:
        assert reference.startswith("/"), reference
        asset = await api.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0, reference
    scripts = [ref for ref in references if ref.endswith(".js")]
    bodies = [(await api.get(ref)).text for ref in scripts]
    assert any(script in body for body in bodies), f"no {script} in {scripts}"


@pytest.mark.parametrize("name", ["pyproject.toml", "..%2F..%2Fpyproject.toml"])
async def test_docs_assets_refuse_names_outside_their_list(
    api: httpx.AsyncClient, name: str
) -> None:
    answer = await api.get(f"/docs/assets/{name}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
