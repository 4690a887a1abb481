"""Local accounts, sessions and per-user homes (no Streamlit here)."""

from rag.auth.accounts import REGISTRATION_MODES, SHARED_HOME, Accounts, User
from rag.auth.sessions import HANDOFFS

__all__ = ["HANDOFFS", "REGISTRATION_MODES", "SHARED_HOME", "Accounts", "User"]
