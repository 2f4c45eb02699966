"""Scheduled promotion of merged work between lanes (main -> staging -> production)."""
