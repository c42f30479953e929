"""Tests of the development CSMS (devcsms/)."""
