from __future__ import annotations

from xml.etree import ElementTree as ET

from aiohttp.test_utils import TestClient

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


async def test_metadata_is_csdl_xml_describing_the_model(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.get("/odata/$metadata", headers=auth)
    assert response.status == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.content_type == "application/xml"
    root = ET.fromstring(await response.read())  # noqa: S314 - our own service's answer in a test
    assert root.tag == "{http://docs.oasis-open.org/odata/ns/edmx}Edmx" and root.get("Version") == "4.0"
    schema = root.find(f".//{EDM}Schema")
    assert schema is not None and schema.get("Namespace") == "Commerce"
    product = schema.find(f"{EDM}EntityType[@Name='Product']")
    assert product is not None
    assert product.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == "id"  # type: ignore[union-attr]
    types = {p.get("Name"): p.get("Type") for p in product.findall(f"{EDM}Property")}
    assert types["price"] == "Edm.Decimal" and types["stock"] == "Edm.Int32" and types["sku"] == "Edm.String"
    navigation = {n.get("Name"): n for n in product.findall(f"{EDM}NavigationProperty")}
    assert navigation["category"].get("Type") == "Commerce.Category"
    category = schema.find(f"{EDM}EntityType[@Name='Category']")
    children = category.find(f"{EDM}NavigationProperty[@Name='children']")  # type: ignore[union-attr]
    assert children.get("Type") == "Collection(Commerce.Category)"  # type: ignore[union-attr]
    assert children.get("Partner") == "parent"  # type: ignore[union-attr]
    sets = {s.get("Name") for s in schema.findall(f"{EDM}EntityContainer/{EDM}EntitySet")}
    assert sets == {"products", "categories", "customers", "orders", "order_items"}
