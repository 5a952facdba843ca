"""Readers that turn transcript files into a normalised text with speaker turns."""
