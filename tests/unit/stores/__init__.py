"""Tests of the bundle stores."""
