"""The ``tokentrail`` command: runs the platform and administers projects and keys."""
