"""Example collectors shipped with harvester; registered by default (``HARVESTER_COLLECTORS``)."""

from harvester.examples.flaky import FlakySource
from harvester.examples.packages import PythonPackages
from harvester.examples.system import SystemMetrics
from harvester.examples.topic import Topic, TopicSource

__all__ = ["FlakySource", "PythonPackages", "SystemMetrics", "Topic", "TopicSource"]
