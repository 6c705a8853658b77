"""segassist: an LLM-agent assistant for e-commerce customer segmentation."""

__version__ = "0.1.0"
