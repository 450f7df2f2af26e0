"""Tests of the smtp layer."""
