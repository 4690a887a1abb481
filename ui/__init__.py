"""Streamlit glue shared by the pages: accounts (auth), administration (admin), chat turns
(chat_turns). Like pages/, it talks to the engine (rag) only through its services."""
