"""The service layer: one module per resource, holding its rules. Services take plain
values (never the request), return documents, and raise the domain errors of
shared.errors; routes and socket handlers only parse, call and respond."""
