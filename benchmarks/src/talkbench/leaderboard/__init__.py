"""The static leaderboard: validate a results directory, build tables and plots, write the site."""

from .collect import ALLOWED_RUN_FILES, REQUIRED_RUN_FILES, ResultsDirError, RunEntry, collect_results
from .reported import ReportedNumber, load_reported
from .site import SITE_MARKER, SiteSummary, build_site, render_index
from .tables import build_tables, column_header, format_scale

__all__ = [
    "ALLOWED_RUN_FILES",
    "REQUIRED_RUN_FILES",
    "SITE_MARKER",
    "ReportedNumber",
    "ResultsDirError",
    "RunEntry",
    "SiteSummary",
    "build_site",
    "build_tables",
    "collect_results",
    "column_header",
    "format_scale",
    "load_reported",
    "render_index",
]
