"""One module per collection. Each module that owns a collection declares
`COLLECTION` (its name) and `INDEXES` (a list of pymongo IndexModel), or, for a
module that owns several collections, `INDEXES` as {collection: [IndexModel, ...]}.
The database layer creates them all at start-up."""
import importlib
import pkgutil


def all_indexes():
    """{collection name: [IndexModel, ...]} for every model module in this package."""
    indexes = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        declared = getattr(module, "INDEXES", None)
        if isinstance(declared, dict):
            for collection, models in declared.items():
                indexes.setdefault(collection, []).extend(models)
        elif declared:
            indexes.setdefault(module.COLLECTION, []).extend(declared)
    return indexes
