"""Custom Rasa NLU components and the offline spaCy pipeline they run on."""
