"""Overview: the project's calls, errors, latency, tokens and spend."""

from dashboard import overview_view
from dashboard.project import current_project

overview_view.render(current_project()[0])
