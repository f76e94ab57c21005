"""Vehicle types a captain may register, and the other names a client may use for them
(a compatibility layer adds its own through `add_alias`)."""
from marshmallow import pre_load

ALIASES = {}


def add_alias(name, vehicle_type):
    """Accept `name` wherever `vehicle_type` is expected."""
    ALIASES[name] = vehicle_type


def canonical_vehicle_type(name):
    """The vehicle type that `name` stands for."""
    return ALIASES.get(name, name)


class VehicleTypeAliases:
    """Mixin of a schema with a `vehicleType`: an alias is read as its vehicle type."""

    @pre_load
    def canonical_type(self, data, **kwargs):
        kind = data.get("vehicleType") if isinstance(data, dict) else None
        if isinstance(kind, str):
            data = {**data, "vehicleType": canonical_vehicle_type(kind)}
        return data
