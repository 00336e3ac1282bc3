"""Appointment requests: storage (SQLAlchemy), staff notification, and the staff CLI."""
