"""Charts and HTML reports (plotly)."""
