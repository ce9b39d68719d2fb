"""Entry module for the ``celery`` command: ``celery -A workers.celery_main worker``.

This is the one module that builds the app at import time, because Celery's CLI loads an
attribute, not a factory.
"""

from __future__ import annotations

from core.settings import get_settings
from workers.celery_app import create_celery

app = create_celery(get_settings())
