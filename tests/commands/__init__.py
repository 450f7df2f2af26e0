"""Tests of the commands layer."""
