"""The endpoints, one module per area; each area's ``add_routes(router)`` adds them to the
application's router. The endpoints get the running service through ``Depends(service_of)``.

In the order they are added (the order of the OpenAPI document): ``rulesets`` (list,
version in force, check a text), ``scoring`` (score, explain), ``ledger`` (record, history,
verify, replay), ``template`` (the data-entry workbook), ``page`` (the web page at ``/``).
``openapi`` completes the document with the request bodies the endpoints read themselves.
"""
