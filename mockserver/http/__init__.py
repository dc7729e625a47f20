"""The sandbox over HTTP: the API's gateway and handlers, the admin API, the inspector page, faults around
them, CORS, and the ASGI app that assembles them (`app.create_app`)."""
