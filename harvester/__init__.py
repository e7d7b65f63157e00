"""harvester: scheduled data collectors on Celery.

Importing harvester opens no connection and reads no environment variable.
"""

from harvester.app import Harvester
from harvester.collector import Collector
from harvester.errors import (
    ConfigError,
    FailureCategory,
    HarvesterError,
    TransientError,
    classify_failure,
)
from harvester.request import RunRequest
from harvester.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Collector",
    "ConfigError",
    "FailureCategory",
    "Harvester",
    "HarvesterError",
    "RunRequest",
    "Settings",
    "TransientError",
    "__version__",
    "classify_failure",
]
