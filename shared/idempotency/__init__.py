"""Retries that do nothing twice: the `Idempotency-Key` header of the write routes
(`decorator.idempotent`) and the stored first answers (`idempotency_keys`)."""
