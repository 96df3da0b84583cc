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
