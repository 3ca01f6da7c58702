"""The Webasyst-compatible api.php access point's authorization side (docs/apiphp.md): the token flow and its tokens.

    GET  /api.php/auth?response_type=code|token&client_id=&client_name=&scope=shop&redirect_uri=[&state=]
         sign-in on the auth service's one login page (/auth/login, OAuth's sessions), then the access page:
         code -> REDIRECT_URI?code=CODE (one-time, 3 minutes; shown on the page when no redirect_uri was given),
         token -> REDIRECT_URI#access_token=TOKEN, deny -> error=access_denied (query for code, fragment for token)
    POST /api.php/token?redirect_uri=&format=json|xml  code, client_id, grant_type=authorization_code
         -> {"access_token": "<32 hex>"}; errors {"error": invalid_request|invalid_grant|unsupported_grant_type, ...}
    POST /api.php/revoke   the presented token revokes itself;  /api/apiphp/tokens  the owner lists and revokes
Tokens never expire (as Webasyst's) and are stored as keyed hashes; the gateway verifies them through /internal/verify
(kind "bearer", services/auth/apiphp/tokens.py ApiPhpTokens.verify), and the principal carries the token's app ids as
scopes, with the user's permissions narrowed to those apps' resources. The methods themselves are the odata
service's (services/odata/apiphp/).
"""
