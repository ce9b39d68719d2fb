"""Trace detail: one trace (``?trace_id=``), its timeline, spans, conversation and scores."""

from dashboard import trace_view
from dashboard.project import current_project

trace_view.render(*current_project())
