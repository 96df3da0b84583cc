"""Names of the routing strategies a tenant or a request may choose."""

from enum import StrEnum


class RouteStrategy(StrEnum):
    BASIC = "basic"
    COST_OPTIMIZED = "cost_optimized"
    PERFORMANCE_OPTIMIZED = "performance_optimized"
    MULTI_MODEL = "multi_model"
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"


class FallbackStrategy(StrEnum):
    """How the remaining candidates are ordered after a failure."""

    NONE = "none"
    BASIC = "basic"
    COST_OPTIMIZED = "cost_optimized"
    PERFORMANCE_OPTIMIZED = "performance_optimized"
    MULTI_MODEL = "multi_model"
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"


class ModelSubstitution(StrEnum):
    """Whether routing may call another model than the one a request names."""

    NONE = "none"  # the named model, then only the request's own `models`
    ON_FAILURE = "on_failure"  # first the named model; after it fails, others
    ANY = "any"  # the strategy chooses among the named and the tenant's models
