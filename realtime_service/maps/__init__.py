"""Maps: the embedded gazetteer, and the configured geocoder and router behind a cache."""
