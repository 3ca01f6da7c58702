"""The request and response bodies of the public API, as JSON Schema, one entry per concrete operation.

openapi.py lays these over the route table: a route whose pattern ends in "/**" is documented by the concrete
operations below it (e.g. /api/users/** by /api/users, /api/users/{id}, ...), an exact route by its own entry.
Answers are described as the services give them; objects list the members a client may rely on and allow more
(a service adding a member is not a breaking change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]


def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def closed(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    """A request body whose members are all listed: the service refuses any other (400)."""
    return {**obj(required, **properties), "additionalProperties": False}


def array(items: Schema, max_items: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
TIME: Schema = nullable({"type": "string"})
PERMISSION: Schema = {"type": "string", "pattern": "^[a-z_]+:[a-z_]+$"}
ANY_JSON: Schema = {}


SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        ("error",),
        error=obj(("code", "message"), code=STRING, message=STRING, target=STRING, line=INTEGER, column=INTEGER),
    ),
    "OAuthError": obj(("error",), error=STRING, error_description=STRING, error_uri=STRING),
    "ApiPhpError": obj(("error",), error=STRING, error_description=STRING, app=STRING),
    "Job": obj(
        ("id", "entity", "mapperId", "status", "imported", "updated", "failed", "statusUrl"),
        id={"type": "string", "format": "uuid"},
        entity=STRING,
        mapperId=STRING,
        status={"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]},
        policy={"type": "string", "enum": ["skip", "all_or_nothing"]},
        fileName=nullable(STRING),
        sizeBytes=nullable(INTEGER),
        rowsTotal=nullable(INTEGER),
        rowsDone=nullable(INTEGER),
        imported=INTEGER,
        updated=INTEGER,
        failed=INTEGER,
        error=nullable(STRING),
        createdAt=TIME,
        startedAt=TIME,
        finishedAt=TIME,
        statusUrl=STRING,
        errors=array(
            obj(("row", "message"), row=INTEGER, column=nullable(STRING), value=nullable(STRING), message=STRING)
        ),
        errorsTruncated=BOOLEAN,
    ),
    "JobQueued": obj(
        ("id", "status", "statusUrl"), id={"type": "string", "format": "uuid"}, status=STRING, statusUrl=STRING
    ),
    "Mapper": obj(
        ("id", "entity", "definition"),
        id=STRING,
        entity=STRING,
        name=STRING,
        definition={"type": "object"},
        owner=nullable(STRING),
        createdAt=TIME,
        updatedAt=TIME,
    ),
    "MapperInput": obj(
        ("entity", "definition"),
        id={"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
        entity={"type": "string", "enum": ["products", "categories", "customers", "orders", "order_items"]},
        name={"type": "string", "maxLength": 200},
        definition=obj(
            ("columns",),
            delimiter={"type": "string", "minLength": 1, "maxLength": 1},
            key=nullable(STRING),
            columns=array(obj(("column", "field"), column=STRING, field=STRING), max_items=200),
        ),
    ),
    "User": obj(
        ("id", "username"),
        id=INTEGER,
        username=STRING,
        email=nullable(STRING),
        is_admin=BOOLEAN,
        is_active=BOOLEAN,
        api_access_enabled=BOOLEAN,
        permissions=array(PERMISSION),
        created_at=TIME,
        updated_at=TIME,
    ),
    "ApiKey": obj(
        ("id", "name", "prefix", "status"),
        id=STRING,
        name=STRING,
        prefix=STRING,
        user_id=nullable(INTEGER),
        username=nullable(STRING),
        scope=nullable(array(STRING)),
        status={"type": "string", "enum": ["active", "expired", "revoked"]},
        created_at=TIME,
        expires_at=TIME,
        last_used_at=TIME,
        revoked_at=TIME,
        rotated_to=nullable(STRING),
        key={"type": "string", "description": "the secret, shown once (create, rotate)"},
    ),
    "App": obj(
        ("client_id", "name"),
        client_id=STRING,
        name=STRING,
        kind=STRING,
        client_type={"type": "string", "enum": ["confidential", "public"]},
        redirect_uris=array(STRING),
        scopes=array(STRING),
        grant_types=array(STRING),
        permissions=array(STRING),
        owner_user_id=nullable(INTEGER),
        client_secret={"type": "string", "description": "shown once (create, rotate)"},
    ),
    "ODataCollection": {
        "type": "object",
        "required": ["@odata.context", "value"],
        "properties": {
            "@odata.context": STRING,
            "@odata.count": INTEGER,
            "@odata.nextLink": STRING,
            "value": array({"type": "object"}),
        },
    },
    "ODataEntity": {"type": "object", "required": ["@odata.context"], "properties": {"@odata.context": STRING}},
    "QueryRequest": obj(("query",), query={"type": "string", "minLength": 1, "maxLength": 20000}),
    "QueryAnswer": {
        "type": "object",
        "additionalProperties": {"type": ["array", "object", "integer", "string", "boolean", "null"]},
    },
}

JSON = "application/json"
JSON_ERROR = ref("Error")


@dataclass(frozen=True)
class Body:
    schema: Schema
    content_type: str = JSON
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """One concrete operation: its success answers (status -> Body), request body, parameters and summary."""

    method: str
    path: str
    summary: str
    answers: dict[str, Body]
    request: Body | None = None
    parameters: tuple[Schema, ...] = ()
    errors: tuple[str, ...] = ("400", "404")
    error_schema: Schema = field(default_factory=lambda: JSON_ERROR)


def query_param(name: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


LIMIT = query_param("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size")
UUID_ID = path_param("id", {"type": "string", "format": "uuid"})
ANY_OBJECT: Schema = {"type": "object"}
JOB_ID = path_param("id", {"type": "string", "format": "uuid"})
USER_ID = path_param("id", {"type": "integer", "minimum": 1})
CLIENT_ID = path_param("client_id", {"type": "string", "minLength": 1, "maxLength": 200})
MAPPER_ID = path_param("id", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"})
ENTITY_SET = path_param(
    "set", {"type": "string", "enum": ["products", "categories", "customers", "orders", "order_items"]}
)
VALUE_LIST = obj(("value",), value=array({"type": "object"}))
IMPORT_FORM = Body(
    {
        "type": "object",
        "required": ["file", "entity", "mapperId"],
        "properties": {
            "file": {"type": "string", "format": "binary", "contentMediaType": "text/csv"},
            "entity": {"type": "string", "enum": ["products", "categories", "customers", "orders", "order_items"]},
            "mapperId": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
            "policy": {"type": "string", "enum": ["skip", "all_or_nothing"]},
        },
    },
    "multipart/form-data",
)
APIPHP_PARAMS = (query_param("format", {"type": "string", "enum": ["json", "xml"]}, "answer format (default json)"),)


def _apiphp_answer(description: str) -> dict[str, Body]:
    any_object: Schema = {"type": ["object", "array", "boolean"]}
    return {"200": Body(any_object, JSON, description)}


OPERATIONS: tuple[Operation, ...] = (
    # OData v4 --------------------------------------------------------------------------------------------------
    Operation(
        "GET",
        "/odata/",
        "OData service document",
        {"200": Body(obj(("value",), value=array({"type": "object"})))},
        errors=("400", "404", "406"),
    ),
    Operation("GET", "/odata/$metadata", "CSDL XML", {"200": Body(STRING, "application/xml")}, errors=("400", "406")),
    Operation(
        "GET",
        "/odata/{set}",
        "A collection, with $filter, $select, $orderby, $top, $skip, $count, $search, $expand",
        {"200": Body(ref("ODataCollection"))},
        parameters=(
            ENTITY_SET,
            query_param("$top", {"type": "integer", "minimum": 0, "maximum": 1000}),
            query_param("$skip", {"type": "integer", "minimum": 0, "maximum": 1000000}),
            query_param("$count", {"type": "string", "enum": ["true", "false"]}),
        ),
        errors=("400", "404", "406", "501"),
    ),
    Operation(
        "GET",
        "/odata/{set}({key})",
        "One entity by key",
        {"200": Body(ref("ODataEntity"))},
        parameters=(ENTITY_SET, path_param("key", {"type": "integer", "minimum": 1, "maximum": 2**62})),
        errors=("400", "404", "406", "501"),
    ),
    Operation(
        "GET",
        "/odata/{set}/$count",
        "The number of entities (text/plain)",
        {"200": Body({"type": "string", "pattern": "^[0-9]+$"}, "text/plain")},
        parameters=(ENTITY_SET,),
    ),
    # Query API -------------------------------------------------------------------------------------------------
    Operation(
        "POST",
        "/api/query",
        "Query API: one key per root",
        {"200": Body(ref("QueryAnswer"))},
        request=Body(ref("QueryRequest")),
        errors=("400", "413", "415"),
    ),
    # Imports -------------------------------------------------------------------------------------------------
    Operation(
        "POST",
        "/api/import",
        "Upload a CSV; waits for the job's end unless Prefer: respond-async",
        {
            "200": Body(ref("Job"), JSON, "the job's view once it ended (or when the wait limit passed)"),
            "202": Body(ref("JobQueued"), JSON, "Prefer: respond-async"),
        },
        request=IMPORT_FORM,
        parameters=(
            {
                "name": "Prefer",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": ["respond-async"]},
            },
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
            },
        ),
        errors=("400", "408", "413", "415"),
    ),
    Operation("GET", "/api/imports", "The caller's import jobs", {"200": Body(VALUE_LIST)}, parameters=(LIMIT,)),
    Operation(
        "GET", "/api/imports/{id}", "One job with its row errors", {"200": Body(ref("Job"))}, parameters=(JOB_ID,)
    ),
    Operation(
        "POST",
        "/api/imports/{id}/cancel",
        "Cancel a queued or running job",
        {"200": Body(ref("Job"))},
        parameters=(JOB_ID,),
    ),
    Operation(
        "GET",
        "/api/mappers",
        "Mappers",
        {"200": Body(VALUE_LIST)},
        parameters=(LIMIT, query_param("entity", STRING)),
    ),
    Operation(
        "POST",
        "/api/mappers",
        "Create a mapper",
        {"201": Body(ref("Mapper"))},
        request=Body(ref("MapperInput")),
        errors=("400", "409", "413", "415"),
    ),
    Operation("GET", "/api/mappers/{id}", "One mapper", {"200": Body(ref("Mapper"))}, parameters=(MAPPER_ID,)),
    Operation(
        "PUT",
        "/api/mappers/{id}",
        "Replace a mapper",
        {"200": Body(ref("Mapper"))},
        request=Body(ref("MapperInput")),
        parameters=(MAPPER_ID,),
        errors=("400", "404", "413", "415"),
    ),
    Operation(
        "DELETE", "/api/mappers/{id}", "Delete a mapper", {"204": Body({}, "", "deleted")}, parameters=(MAPPER_ID,)
    ),
    # Webhooks -------------------------------------------------------------------------------------------------------
    Operation("GET", "/api/webhooks", "The caller's subscriptions (every one for an admin)", {"200": Body(ANY_OBJECT)}),
    Operation(
        "POST",
        "/api/webhooks",
        "Subscribe a URL to events; the signing secret is shown once",
        {"201": Body(ANY_OBJECT)},
        request=Body(ANY_OBJECT),
        errors=("400", "409", "413", "415"),
    ),
    Operation("GET", "/api/webhooks/{id}", "One subscription", {"200": Body(ANY_OBJECT)}, parameters=(UUID_ID,)),
    Operation(
        "PATCH",
        "/api/webhooks/{id}",
        "Change a subscription",
        {"200": Body(ANY_OBJECT)},
        request=Body(ANY_OBJECT),
        parameters=(UUID_ID,),
        errors=("400", "404", "413", "415"),
    ),
    Operation(
        "DELETE", "/api/webhooks/{id}", "Delete a subscription", {"204": Body({}, "", "deleted")}, parameters=(UUID_ID,)
    ),
    Operation(
        "POST",
        "/api/webhooks/{id}/rotate-secret",
        "A new signing secret, shown once",
        {"200": Body(ANY_OBJECT)},
        parameters=(UUID_ID,),
    ),
    Operation(
        "GET",
        "/api/webhooks/{id}/deliveries",
        "The delivery log, newest first, filtered by status",
        {"200": Body(ANY_OBJECT)},
        parameters=(UUID_ID,),
    ),
    Operation(
        "POST",
        "/api/webhooks/{id}/deliveries/{delivery_id}/resend",
        "Send a delivery again with its webhook-id",
        {"202": Body(ANY_OBJECT)},
        parameters=(UUID_ID, path_param("delivery_id", {"type": "string", "minLength": 1, "maxLength": 64})),
        errors=("400", "404", "409"),
    ),
    # Management API ---------------------------------------------------------------------------------------------
    Operation(
        "GET",
        "/api/me",
        "The caller",
        {"200": Body(obj(("principal",), principal={"type": "object"}, user=ref("User")))},
    ),
    Operation(
        "POST",
        "/api/me/password",
        "Change one's own password",
        {"200": Body(obj(("changed",), changed=BOOLEAN))},
        request=Body(closed(("current_password", "new_password"), current_password=STRING, new_password=STRING)),
        errors=("400", "413", "415"),
    ),
    Operation(
        "GET",
        "/api/audit",
        "Audit log",
        {"200": Body(VALUE_LIST)},
        parameters=(
            query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            query_param("before", {"type": "integer", "minimum": 1}),
            query_param("user_id", {"type": "integer", "minimum": 1}),
            query_param("event", STRING),
        ),
    ),
    Operation("GET", "/api/users", "Users", {"200": Body(VALUE_LIST)}),
    Operation(
        "POST",
        "/api/users",
        "Create a user",
        {"201": Body(ref("User"))},
        request=Body(
            closed(
                ("username",),
                username=STRING,
                password=STRING,
                email=STRING,
                is_admin=BOOLEAN,
                permissions=array(PERMISSION),
            )
        ),
        errors=("400", "409", "413", "415"),
    ),
    Operation("GET", "/api/users/{id}", "One user", {"200": Body(ref("User"))}, parameters=(USER_ID,)),
    Operation(
        "PATCH",
        "/api/users/{id}",
        "Change a user",
        {"200": Body(ref("User"))},
        request=Body(closed(email=nullable(STRING), is_active=BOOLEAN, is_admin=BOOLEAN)),
        parameters=(USER_ID,),
        errors=("400", "404", "409", "413", "415"),
    ),
    Operation(
        "PUT",
        "/api/users/{id}/permissions",
        "Replace a user's permissions",
        {"200": Body(ref("User"))},
        request=Body(closed(("permissions",), permissions=array(PERMISSION))),
        parameters=(USER_ID,),
        errors=("400", "404", "413", "415"),
    ),
    Operation(
        "POST",
        "/api/users/{id}/password",
        "Reset a user's password",
        {"200": Body(obj(("reset",), reset=BOOLEAN))},
        request=Body(closed(("new_password",), new_password=STRING)),
        parameters=(USER_ID,),
        errors=("400", "404", "413", "415"),
    ),
    Operation(
        "POST",
        "/api/users/{id}/api-access",
        "Enable or disable a user's API token (HTTP Basic)",
        {"200": Body(ref("User"))},
        request=Body(closed(("enabled",), enabled=BOOLEAN)),
        parameters=(USER_ID,),
        errors=("400", "404", "409", "413", "415"),
    ),
    Operation(
        "GET",
        "/api/users/{id}/api-token",
        "A user's API token (HTTP Basic)",
        {"200": Body({"type": "object"})},
        parameters=(USER_ID,),
    ),
    Operation(
        "POST",
        "/api/users/{id}/api-token/regenerate",
        "A new API token, pending until saved",
        {"200": Body({"type": "object"})},
        parameters=(USER_ID,),
        errors=("400", "404", "409"),
    ),
    Operation(
        "POST",
        "/api/users/{id}/api-token/save",
        "Save the pending API token",
        {"200": Body({"type": "object"})},
        request=Body(closed(("pending_id",), pending_id=STRING)),
        parameters=(USER_ID,),
        errors=("400", "404", "409", "413", "415"),
    ),
    Operation("GET", "/api/keys", "API keys", {"200": Body(VALUE_LIST)}),
    Operation(
        "POST",
        "/api/keys",
        "Create an API key (the secret is shown once)",
        {"201": Body(ref("ApiKey"))},
        request=Body(
            closed(
                ("name",),
                name=STRING,
                user_id=nullable(INTEGER),
                scope=nullable(array(PERMISSION)),
                expires_at=nullable(STRING),
            )
        ),
        errors=("400", "404", "409", "413", "415"),
    ),
    Operation(
        "POST",
        "/api/keys/{id}/revoke",
        "Revoke an API key",
        {"200": Body(ref("ApiKey"))},
        parameters=(UUID_ID,),
        errors=("400", "404", "409"),
    ),
    Operation(
        "POST",
        "/api/keys/{id}/rotate",
        "Rotate an API key",
        {"201": Body(ref("ApiKey"), JSON, "the new key, its secret shown once")},
        request=Body(closed(grace_seconds=INTEGER)),
        parameters=(UUID_ID,),
        errors=("400", "404", "409", "413", "415"),
    ),
    Operation("GET", "/api/apps", "Developer apps", {"200": Body(obj(("apps",), apps=array(ref("App"))))}),
    Operation(
        "POST",
        "/api/apps",
        "Register a developer app (the secret is shown once)",
        {"201": Body(ref("App"))},
        request=Body({"type": "object"}),
        errors=("400", "409", "413", "415"),
    ),
    Operation("GET", "/api/apps/{client_id}", "One developer app", {"200": Body(ref("App"))}, parameters=(CLIENT_ID,)),
    Operation(
        "PATCH",
        "/api/apps/{client_id}",
        "Change a developer app",
        {"200": Body(ref("App"))},
        request=Body({"type": "object"}),
        parameters=(CLIENT_ID,),
        errors=("400", "404", "409", "413", "415"),
    ),
    Operation(
        "DELETE",
        "/api/apps/{client_id}",
        "Delete a developer app",
        {"204": Body({}, "", "deleted")},
        parameters=(CLIENT_ID,),
    ),
    Operation(
        "POST",
        "/api/apps/{client_id}/secret/rotate",
        "A new client secret",
        {"200": Body(ref("App"))},
        parameters=(CLIENT_ID,),
        errors=("400", "404", "409"),
    ),
    Operation("GET", "/api/authorizations", "Apps the caller authorized", {"200": Body({"type": "object"})}),
    Operation(
        "DELETE",
        "/api/authorizations/{client_id}",
        "Withdraw an app's authorization",
        {"204": Body({}, "", "withdrawn")},
        parameters=(CLIENT_ID,),
    ),
    Operation(
        "POST",
        "/api/authorizations/{client_id}/revoke",
        "Withdraw an app's authorization",
        {"204": Body({}, "", "withdrawn")},
        parameters=(CLIENT_ID,),
    ),
    Operation("GET", "/api/apiphp/tokens", "The caller's api.php tokens", {"200": Body(VALUE_LIST)}),
    Operation(
        "POST",
        "/api/apiphp/tokens/{id}/revoke",
        "Revoke an api.php token",
        {"200": Body(obj(("id", "revoked"), id=STRING, revoked=BOOLEAN))},
        parameters=(path_param("id", STRING),),
    ),
    Operation(
        "DELETE",
        "/api/apiphp/tokens/{id}",
        "Revoke an api.php token",
        {"200": Body(obj(("id", "revoked"), id=STRING, revoked=BOOLEAN))},
        parameters=(path_param("id", STRING),),
    ),
    # OAuth 2.0 and server metadata -------------------------------------------------------------------------------
    Operation(
        "POST",
        "/auth/oauth/token",
        "Token endpoint (RFC 6749 section 3.2)",
        {
            "200": Body(
                obj(
                    ("access_token", "token_type", "expires_in"),
                    access_token=STRING,
                    token_type={"type": "string", "enum": ["Bearer"]},
                    expires_in=INTEGER,
                    scope=STRING,
                    refresh_token=STRING,
                )
            )
        },
        request=Body(
            obj(
                ("grant_type",), grant_type=STRING, code=STRING, redirect_uri=STRING, refresh_token=STRING, scope=STRING
            ),
            "application/x-www-form-urlencoded",
        ),
        errors=("400", "401", "413", "415"),
        error_schema=ref("OAuthError"),
    ),
    Operation(
        "POST",
        "/auth/oauth/revoke",
        "Revocation endpoint (RFC 7009)",
        {"200": Body({}, "", "revoked, or unknown")},
        request=Body(obj(("token",), token=STRING, token_type_hint=STRING), "application/x-www-form-urlencoded"),
        errors=("400", "401", "413", "415"),
        error_schema=ref("OAuthError"),
    ),
    Operation(
        "POST",
        "/auth/oauth/introspect",
        "Introspection endpoint (RFC 7662)",
        {"200": Body(obj(("active",), active=BOOLEAN))},
        request=Body(obj(("token",), token=STRING, token_type_hint=STRING), "application/x-www-form-urlencoded"),
        errors=("400", "401", "413", "415"),
        error_schema=ref("OAuthError"),
    ),
    Operation(
        "GET",
        "/.well-known/jwks.json",
        "Signing keys (RFC 7517)",
        {"200": Body(obj(("keys",), keys=array({"type": "object"})))},
    ),
    Operation(
        "GET",
        "/.well-known/oauth-authorization-server",
        "Authorization server metadata (RFC 8414)",
        {"200": Body(obj(("issuer", "token_endpoint"), issuer=STRING, token_endpoint=STRING))},
    ),
    # api.php --------------------------------------------------------------------------------------------------
    Operation(
        "POST",
        "/api.php/token",
        "Exchange a code for an api.php token",
        {"200": Body(obj(("access_token",), access_token=STRING))},
        request=Body(
            obj(("code", "client_id", "grant_type"), code=STRING, client_id=STRING, grant_type=STRING),
            "application/x-www-form-urlencoded",
        ),
        parameters=(query_param("redirect_uri", STRING), *APIPHP_PARAMS),
        errors=("400", "413", "415"),
        error_schema=ref("ApiPhpError"),
    ),
    Operation(
        "POST",
        "/api.php/revoke",
        "An api.php token revokes itself",
        {"200": Body({"type": "object"})},
        parameters=APIPHP_PARAMS,
        errors=("400",),
        error_schema=ref("ApiPhpError"),
    ),
    Operation(
        "GET",
        "/api.php/{method}",
        "Call an api.php method (APP.METHOD), docs/apiphp.md",
        _apiphp_answer("the method's answer"),
        parameters=(path_param("method", {"type": "string", "pattern": "^[a-z]+\\.[A-Za-z.]+$"}), *APIPHP_PARAMS),
        errors=("400", "404", "405", "413"),
        error_schema=ref("ApiPhpError"),
    ),
    Operation(
        "POST",
        "/api.php/{method}",
        "Call an api.php method (APP.METHOD); parameters as a form, files in multipart",
        _apiphp_answer("the method's answer"),
        request=Body(
            {"type": "object", "additionalProperties": {"type": "string"}}, "application/x-www-form-urlencoded"
        ),
        parameters=(path_param("method", {"type": "string", "pattern": "^[a-z]+\\.[A-Za-z.]+$"}), *APIPHP_PARAMS),
        errors=("400", "404", "405", "413"),
        error_schema=ref("ApiPhpError"),
    ),
)
