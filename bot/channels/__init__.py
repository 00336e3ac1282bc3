"""Input channels of the clinic assistant."""
