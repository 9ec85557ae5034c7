"""`arkops serve`: the HTTP face of arkops, beside the CLI.

Like a command, a route parses its request, calls one core function and
renders the result (JSON); the core does the work (`arkops.core.serve` and
the domains). `wsgi` is the application (routing, the bearer token, limits,
CORS, request ids, the access log, errors as JSON with the exit codes'
meanings), `routes` the routes, `server` runs it on waitress and stops it
gracefully. docs/api.md describes every route; docs/openapi.json is the
OpenAPI document the tests check the answers against.
"""
