"""Prompt templates for the writers (explanations, campaign briefs)."""
