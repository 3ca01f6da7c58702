"""The gateway: the platform's one public front door.

It owns the public route table (routes.py), reads the client's credential (X-API-Key, Basic, Bearer), verifies it
with the auth service (caching the answer and dropping it on revocation events from RabbitMQ), applies the HTTPS
rule, rate limits and CORS, checks the route's permission and forwards the request, streamed both ways, to the
backend with the signed internal principal instead of the credential. It has no database.
"""
