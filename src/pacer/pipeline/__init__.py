"""The provider's portfolio as tables: projects, stages, leases and the options on them."""

from pacer.pipeline.projects import PipelineTable, build_pipeline

__all__ = ["PipelineTable", "build_pipeline"]
