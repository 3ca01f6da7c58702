"""api.php methods (seed 000, part 2), answered from the catalog entity model with the odata service's safe SQL.

    /api.php/APP.METHOD?PARAMS&format=json|xml   and the alternatives /api.php/APP/METHOD, /api.php?app=&method=
    (GET or POST; POST parameters urlencoded or multipart/form-data; the gateway has verified the access_token and
    removed it, and signs the principal, whose scopes are the token's app ids)

Checks, in Webasyst's order: format (invalid_request), app exists (invalid_method: only `shop` is installed here),
scope includes the app (access_denied), method exists (invalid_method, names case-insensitive as PHP classes are),
the user's read permission on the method's resource (access_denied), then the parameters (invalid_request).
Methods of the shop app: product.getInfo, product.getList, product.search, category.getTree, category.getInfo,
customer.getInfo, order.getInfo, order.getList (services/odata/apiphp/methods.py). An id that names nothing answers
404 {"error": "invalid_param", "error_description": "Product not found"} as Webasyst does.
"""
