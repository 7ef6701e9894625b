"""The provider's portfolio as tables: projects, stages, leases and the options on them."""

from pacer.pipeline.projects import (
    LIVE,
    PipelineTable,
    build_pipeline,
    first_live_quarter,
    least_advanced_drops,
    levels_now,
)

__all__ = ["LIVE", "PipelineTable", "build_pipeline", "first_live_quarter", "least_advanced_drops", "levels_now"]
