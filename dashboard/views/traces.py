"""Traces: the filtered, paged trace list."""

from dashboard import trace_list
from dashboard.project import current_project

trace_list.render(*current_project())
