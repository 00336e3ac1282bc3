"""Custom actions of the clinic assistant, served by the rasa-sdk action server."""
