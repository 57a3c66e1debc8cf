"""Hooks into the frameworks LLM applications run on; each needs its own optional extra (``langchain``: the
LangChain guard, ``pip install 'safe-embed[langchain]'``)."""
