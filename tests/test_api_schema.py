"""The OpenAPI description integrators build against."""

import yaml
from openapi_spec_validator import validate


def test_the_schema_is_valid_openapi(client, make_user):
    client.force_login(make_user("dana", "dispatcher"))
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    validate(yaml.safe_load(response.content))


def test_the_api_docs_page_uses_no_asset_from_the_internet(client, make_user):
    client.force_login(make_user("dana", "dispatcher"))
    page = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page
