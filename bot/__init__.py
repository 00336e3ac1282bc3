"""The facet-joint clinic assistant: settings, custom NLU components, channels and tools."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
