"""api.php methods (seed 000, part 2), answered from the catalog with the odata service's safe SQL.

    /api.php/APP.METHOD?PARAMS&format=json|xml   and the alternatives /api.php/APP/METHOD, /api.php?app=&method=
    (GET or POST; POST parameters urlencoded or multipart/form-data, files in multipart; the gateway has verified
    the access_token and removed it, and signs the principal, whose scopes are the token's app ids)

Checks in Webasyst's order, each with Webasyst's error code (docs/apiphp.md has the table): the path
(invalid_request), format (invalid_request), app exists (app_not_installed), the user has a right in the app and the
token's scope holds it (access_denied), method exists (invalid_method), HTTP method (405 invalid_request), the
user's permission for the method (access_denied), then the parameters (invalid_param). The methods are listed in
services/odata/apiphp/registry.py.
"""
