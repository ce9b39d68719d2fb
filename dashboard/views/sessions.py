"""Sessions: conversations and one conversation in order."""

from dashboard import session_list
from dashboard.project import current_project

session_list.render(current_project()[0])
