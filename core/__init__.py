"""The base every layer stands on: errors, settings, progress reporting."""
