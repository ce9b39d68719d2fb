"""Users: usage per end user."""

from dashboard import user_list
from dashboard.project import current_project

user_list.render(current_project()[0])
