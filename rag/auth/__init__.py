"""Local accounts, sessions and per-user homes (no Streamlit here)."""

from rag.auth.accounts import SHARED_HOME, Accounts, User, accounts_enabled
from rag.auth.registration import REGISTRATION_MODES
from rag.auth.sessions import HANDOFFS

__all__ = ["HANDOFFS", "REGISTRATION_MODES", "SHARED_HOME", "Accounts", "User",
           "accounts_enabled"]
