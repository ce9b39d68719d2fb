"""Quality: score trends, distributions, worst traces and the review queue."""

from dashboard import quality_view
from dashboard.project import current_project

quality_view.render(*current_project())
