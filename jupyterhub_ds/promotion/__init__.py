"""Scheduled, gated promotion of merged work between lanes (main -> staging -> production)."""
