"""The HTTP service behind ``kpirules serve`` and its web page for policy staff.

``create_app(settings)`` builds the application (testable in-process); it needs the
``server`` extra (``pip install 'kpirules[server]'``).
"""

from kpirules.service.app import create_app
from kpirules.service.settings import Settings

__all__ = ["Settings", "create_app"]
