"""Polling triggers: a module each, defining ``TRIGGER``."""
