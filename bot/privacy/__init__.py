"""Privacy safeguards: private file modes, retention purges (python -m bot privacy purge) and the
daily purge job. Log redaction lives in bot/log_privacy.py (it must import nothing heavy)."""
